"""The error raised for bad input data: it names the file, what is wrong, and the fix."""


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or holds invalid content."""
