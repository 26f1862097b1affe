"""Errors a command reports to the user as one line."""


class CommandError(Exception):
    """A failure the user can act on; printed without a stack trace."""
