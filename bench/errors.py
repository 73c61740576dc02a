"""The exceptions for mistakes a user can fix, printed without a traceback, and bench's exit
codes (README, "Exit codes")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_REGRESSION = 1  # bench check: a figure regressed
EXIT_USER_ERROR = 2  # a usage or input error
EXIT_NO_REFERENCE = 3  # the gate has nothing usable to judge against
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # SIGTERM


class UserError(Exception):
    """A mistake the user can fix: says what went wrong, where, and how to fix it.

    ``main()`` prints it as a short message and exits with ``exit_code`` (2). Every other
    exception is a bug and keeps its traceback.
    """

    exit_code = EXIT_USER_ERROR

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        lines = [self.what if self.where is None else f"{self.where}: {self.what}"]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class NoReference(UserError):
    """The gate has no usable reference: none saved for this machine, one of another machine or
    definition, or a history without a usable run. Exit 3, so that CI tells it from a
    regression (1) and from a mistyped command (2)."""

    exit_code = EXIT_NO_REFERENCE
