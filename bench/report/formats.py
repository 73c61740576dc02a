"""How a number, a share, a mode and a configuration are written in every report."""

from __future__ import annotations

from typing import Any

from bench.analyse.summary import Row

DASH = "—"  # a number the run cannot give


def num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def pct(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value * 100:.{digits}f} %"


def mode_label(row: Row) -> str:
    return f"{row.mode.value} (oversubscribed)" if row.oversubscribed else row.mode.value


def params(values: dict[str, Any] | None) -> str:
    return DASH if values is None else ", ".join(f"{k}={value(v)}" for k, v in values.items())


def value(v: Any) -> str:
    """A hyperparameter's value: numbers short (0.001, 1e+20), a workload's strings as they are."""
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
