"""Printers of a Comparison: a terminal table, markdown, and JSON with stable keys."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from bench.compare.comparison import Comparison
from bench.compare.figures import Figure
from bench.compare.judging import FigureComparison

HEADERS = ["where", "figure", "A", "B", "B/A", "95 % interval", "verdict", "why"]


def format_value(value: Any, figure: Figure) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if figure.unit == "%":
        return f"{value * 100:.2f} %"
    if figure.unit == "s":
        return f"{value:.3f} s"
    if figure.unit == "x":
        return f"{value:.2f}x"
    if figure.unit == "probes":  # a time in units of the machine probe
        return f"{value:.1f} probes"
    return f"{value:.3f}"


def _interval(fc: FigureComparison) -> str:
    if fc.interval is None:
        return "—"
    low, high = fc.interval
    if fc.figure.absolute_threshold:  # an interval of B - A
        return f"{low:+.3f} … {high:+.3f} s"
    return f"{low:.3f} … {high:.3f}"


def _rows(comparison: Comparison) -> list[list[str]]:
    return [[fc.scope, fc.figure.label, format_value(fc.a, fc.figure),
             format_value(fc.b, fc.figure), "—" if fc.ratio is None else f"{fc.ratio:.3f}",
             _interval(fc), fc.verdict.value, fc.why] for fc in comparison.figures]


def _header(comparison: Comparison) -> list[str]:
    return [f"A: {comparison.a_label}", f"B: {comparison.b_label}"]


def to_table(comparison: Comparison) -> str:
    parts = [*_header(comparison), "",
             tabulate(_rows(comparison), headers=HEADERS, disable_numparse=True)]
    extra = comparison.mismatches + comparison.notes
    if extra:
        parts += ["", *(f"note: {n}" for n in extra)]
    return "\n".join(parts)


def to_markdown(comparison: Comparison) -> str:
    md = ["# bench compare", "", *(f"- {line}" for line in _header(comparison)), "",
          tabulate(_rows(comparison), headers=HEADERS, tablefmt="github", disable_numparse=True)]
    extra = comparison.mismatches + comparison.notes
    if extra:
        md += ["", *(f"- {n}" for n in extra)]
    return "\n".join(md) + "\n"


def to_json(comparison: Comparison) -> dict[str, Any]:
    return {
        "a": comparison.a_label, "b": comparison.b_label, "comparable": comparison.comparable,
        "mismatches": comparison.mismatches, "notes": comparison.notes,
        "figures": [{
            "scope": fc.scope, "figure": fc.figure.key, "label": fc.figure.label,
            "kind": fc.figure.kind.value,
            "better": "higher" if fc.figure.higher_is_better else "lower",
            "a": fc.a, "b": fc.b, "ratio": fc.ratio,
            "interval": list(fc.interval) if fc.interval else None,
            "verdict": fc.verdict.value, "why": fc.why, "gated": fc.gated and fc.figure.gated,
            "gated_as": fc.gated_as or None,
        } for fc in comparison.figures],
    }
