"""The one exception type for mistakes a user can fix: it is printed without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix: says what went wrong, where, and how to fix it.

    ``main()`` prints it as a short message and exits with code 2. Every other exception is a bug
    and keeps its traceback.
    """

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
