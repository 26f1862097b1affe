"""How a step of the entrypoint says the run failed: a reason from the trainer contract
and a message for people (with the trainer's exit code and last log lines when it ran)."""

from __future__ import annotations


class TrainingFailure(Exception):
    def __init__(self, reason: str, message: str, exit_code: int = 0, log_tail: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.exit_code = exit_code
        self.log_tail = log_tail
