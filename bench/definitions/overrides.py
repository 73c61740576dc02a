"""Settings that change a workload's ``[training]`` or ``[dataset]`` for one run: a grid's own
(``[grids.NAME.settings]`` in the workload file) and ``bench run --set TABLE.KEY=VALUE``.

A setting is applied to the file's data before the workload is read, so its value is checked
exactly as in the file; an error about it names where it was given. The workload read with its
settings is what the run measures: its definition hash covers them (bench.definitions.workload).
"""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tomllib

from bench.errors import UserError

SET = "--set"  # the origin of a setting given on the command line
# The table of a grid that holds its settings: a name no hyperparameter has.
GRID_SETTINGS = "settings"


@dataclass(frozen=True)
class Setting:
    """One ``TABLE.KEY = VALUE`` that replaces the workload file's value for a run."""

    table: str  # "training" or "dataset"
    key: str
    value: Any
    origin: str  # "--set", or "grid NAME" for a grid's settings
    where: str  # for messages: "--set training.epochs=2", or the file and its table

    @property
    def name(self) -> str:
        return f"{self.table}.{self.key}"

    @property
    def from_command_line(self) -> bool:
        return self.origin == SET


def parse_value(text: str) -> Any:
    """``text`` read as a TOML value (``2``, ``0.5``, ``false``, ``"text"``); what is not one
    is the string itself, so that ``--set dataset.path=/data/mnist`` needs no quotes (a TOML
    date too: no setting takes one, a folder may be named like one)."""
    try:
        document = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    value = document["value"] if len(document) == 1 else text
    return text if isinstance(value, datetime.date | datetime.time) else value


def parse_set(item: str) -> Setting:
    """``TABLE.KEY=VALUE`` as given to ``--set``. A ValueError (a usage error) when it is not of
    that form; whether the table and key exist is checked against the workload
    (check_names)."""
    name, equals, text = item.partition("=")
    table, dot, key = name.strip().partition(".")
    if not equals or not dot or not table or not key:
        raise ValueError(f"expected TABLE.KEY=VALUE, like training.epochs=2, got {item!r}")
    return Setting(table, key.strip(), parse_value(text.strip()), SET, f"{SET} {item}")


def check_names(setting: Setting, known: Mapping[str, Sequence[str]]) -> None:
    """A UserError unless ``setting`` names a table of ``known`` and one of its keys; it
    suggests the closest name."""
    if setting.table not in known:
        raise UserError(f"'{setting.table}' is not a table settings can change",
                        where=setting.where,
                        fix=_closest(setting.table, list(known),
                                     f"change {' or '.join(f'{t}.KEY' for t in known)}; the "
                                     "model, baseline and grids are the file's"))
    keys = known[setting.table]
    if setting.key not in keys:
        close = difflib.get_close_matches(setting.key, keys, n=1)
        raise UserError(f"unknown key '{setting.key}' in [{setting.table}]", where=setting.where,
                        fix=f"did you mean '{setting.table}.{close[0]}'?" if close
                        else f"known keys: {', '.join(keys)}")


def _closest(word: str, candidates: list[str], otherwise: str) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f"did you mean '{close[0]}'?" if close else otherwise


def grid_settings(data: object, file: str, grid: str,
                  known: Mapping[str, Sequence[str]]) -> tuple[Setting, ...]:
    """The settings of ``[grids.GRID.settings]``: tables of ``known`` with their keys, e.g.
    ``training.epochs = 1`` or ``dataset = { train_limit = 4000 }``."""
    path = f"grids.{grid}.{GRID_SETTINGS}"
    where = f"{file} [{path}]"
    if not isinstance(data, dict):
        raise UserError(f"must be a table, got {data!r}", where=where,
                        fix=f"write [{path}] on a line of its own, then e.g. training.epochs = 1")
    settings = []
    for table, values in data.items():
        if table not in known:
            check_names(Setting(table, "", None, f"grid {grid}", where), known)  # raises
        if not isinstance(values, dict):
            raise UserError(f"'{table}' must be a table, got {values!r}", where=where,
                            fix=f"write {table}.KEY = VALUE, e.g. training.epochs = 1")
        for key, value in values.items():
            setting = Setting(table, key, value, f"grid {grid}", f"{file} [{path}.{table}]")
            check_names(setting, known)
            settings.append(setting)
    return tuple(settings)


def effective(settings: Iterable[Setting]) -> tuple[Setting, ...]:
    """The settings that apply: of two for one key the later (``--set`` after the grid's),
    in the order first given."""
    last: dict[str, Setting] = {}
    for s in settings:
        last[s.name] = s
    return tuple(last.values())


def to_record(settings: Iterable[Setting]) -> dict[str, dict[str, Any]]:
    """For run.json: ``{"training.epochs": {"value": 2, "from": "--set"}, ...}``."""
    return {s.name: {"value": s.value, "from": s.origin} for s in settings}


def from_record(record: Mapping[str, Mapping[str, Any]], where: str) -> list[Setting]:
    """The ``--set`` settings of a run.json record, to read its workload again as the run did
    (a grid's settings come from the file again, under the definition hash's check)."""
    settings = []
    for name, entry in record.items():
        if entry.get("from") != SET:
            continue
        table, _, key = name.partition(".")
        settings.append(Setting(table, key, entry["value"], SET,
                                f"{where} ({SET} {name}={_shown(entry['value'])})"))
    return settings


def describe(record: Mapping[str, Mapping[str, Any]]) -> str:
    """A run.json record in one line: ``training.epochs=2 (--set), dataset.train_limit=4000
    (grid laptop)``; "" when the run changed nothing."""
    return ", ".join(f"{name}={_shown(entry['value'])} ({entry.get('from', '?')})"
                     for name, entry in record.items())


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
