"""Errors the user can act on. Messages say what was expected, what was found and how to fix it."""


class UsageError(Exception):
    """A problem the user can fix: bad arguments, an unreadable file, a mismatched model.

    The command line turns it into exit status 2 and prints the message.
    """


class ModelContractError(UsageError):
    """A model directory does not match this version of the code (labels, normaliser, lexicon)."""


class Interrupted(Exception):
    """A scoring run was stopped (Ctrl-C, SIGTERM) after writing some rows; the message says how
    to continue. The command line turns it into exit status 130."""
