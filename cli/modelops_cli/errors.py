"""Errors a command reports to the user as one line.

One error type for every ``modelops`` command, the runtime's ``serve`` and ``fetch`` too.
"""

from modelops_runtime.commands import CommandError

__all__ = ["CommandError"]
