"""`UserError`: the one error for a user's mistake or a bad input file.

Its message names what is wrong, which file or argument, and what to do. Every
``plantwatch`` command ends such an error with that one line on stderr and exit status 2;
anything else that escapes is a bug of ours and keeps its traceback.
"""


class UserError(ValueError):
    """A mistake of the user or a bad input: the message says what, where and the fix."""
