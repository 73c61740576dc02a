"""Strict reading of TOML definition files: every key known, every value checked.

A typo must never pass silently: an unknown key is an error that names the file, the table and the
closest known key.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import tomllib  # Python 3.11+, as pyproject's requires-python says

from bench.errors import UserError

_MISSING: Any = object()


class Invalid(NamedTuple):
    """Why a value is refused (said after the key's name) and how to fix it."""

    problem: str
    fix: str


# A check returns what is wrong with a value, or None when it is valid.
Check = Callable[[Any], Invalid | None]


def load_toml(path: Path) -> dict[str, Any]:
    """Parse ``path``; a syntax error is a UserError pointing at the line."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise UserError(
            f"not valid TOML: {e}", where=str(path), fix="correct the syntax at that line"
        ) from None
    except OSError as e:
        raise UserError(f"cannot read the file: {e.strerror}", where=str(path),
                        fix="give a readable file") from None


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _example(key: str, kind: type | tuple[type, ...], table: str) -> str:
    """How a value of ``kind`` is written: quoting a number is the usual mistake."""
    first = kind[0] if isinstance(kind, tuple) else kind
    if first is dict:
        name = f"{table}.{key}" if table else key
        return f"a table: [{name}] on a line of its own, its keys below it"
    examples = {int: "2 (no quotes)", float: "0.5 (no quotes)", str: '"..." (in quotes)',
                bool: "true or false (no quotes)", list: "[..., ...]"}
    return f"{key} = {examples.get(first, '...')}"


class Table:
    """One TOML table being read: hands out checked values, then rejects whatever is left."""

    def __init__(self, data: object, file: str, path: str = "") -> None:
        self.file = file
        self.path = path  # dotted table name, "" for the top level
        if not isinstance(data, dict):
            raise UserError(f"must be a table, got {data!r}", where=self.where)
        self.data = data
        self._read: set[str] = set()

    @property
    def where(self) -> str:
        return f"{self.file} [{self.path}]" if self.path else self.file

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = _MISSING,
        check: Check | None = None,
    ) -> Any:
        """The value at ``key``, of type ``kind``, that ``check`` (if given) accepts."""
        self._read.add(key)
        if key not in self.data:
            if default is _MISSING:
                typo = difflib.get_close_matches(key, [str(k) for k in self.data], n=1)
                raise UserError(
                    f"missing required key '{key}' ({_type_name(kind)})",
                    where=self.where,
                    fix=f"did you mean '{key}' where it says '{typo[0]}'?" if typo
                    else f"add '{key} = ...' to this table",
                )
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # An int is accepted where a float is asked for; a bool is never a number.
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise UserError(
                f"'{key}' must be {_type_name(kind)}, got {value!r}", where=self.where,
                fix=f"write {_example(key, kind, self.path)}",
            )
        if check is not None and (invalid := check(value)):
            raise UserError(f"'{key}' {invalid.problem}", where=self.where, fix=invalid.fix)
        return value

    def table(self, key: str, default: Any = _MISSING) -> Table:
        value = self.get(key, dict, default=default)
        return Table(value, self.file, f"{self.path}.{key}" if self.path else key)

    def finish(self, known: list[str] | None = None) -> None:
        """Reject keys that were never read: they are typos or unsupported options."""
        unknown = [k for k in self.data if k not in self._read]
        if not unknown:
            return
        candidates = known if known is not None else sorted(self._read)
        key = unknown[0]
        close = difflib.get_close_matches(key, candidates, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(candidates)}"
        raise UserError(f"unknown key '{key}'", where=self.where, fix=hint)


def positive(value: float) -> Invalid | None:
    if value > 0:
        return None
    return Invalid(f"must be greater than 0, got {value!r}", "give a number greater than 0")


def non_negative(value: float) -> Invalid | None:
    if value >= 0:
        return None
    return Invalid(f"must be 0 or more, got {value!r}", "give 0 or a positive number")


def one_of(choices: Any, what: str) -> Check:
    """A check that the value is one of ``choices`` (a dataset, a model family, a grid)."""
    def check(value: str) -> Invalid | None:
        if value in choices:
            return None
        return Invalid(f"is an unknown {what} '{value}'", f"use one of: {', '.join(choices)}")

    return check
