"""The error raised for bad input data: it names the file, what is wrong, and the fix."""

from plantwatch.errors import UserError


class DatasetError(UserError):
    """A dataset file is missing, unreadable or holds invalid content."""
