"""What the command-line client reports: a code and a message, never a traceback."""

from __future__ import annotations


class CliError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
