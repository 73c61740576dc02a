"""The regression gate: which comparisons of a run against its reference fail the check."""

from __future__ import annotations

from bench.compare.comparison import Comparison
from bench.compare.judging import FigureComparison, Verdict
from bench.errors import NoReference


def regressions(comparison: Comparison) -> list[FigureComparison]:
    """Gated figures that got worse beyond their threshold (significantly, where repeats allow
    a test), and exact results that changed at all: a changed test error means the training
    changed, which a new reference must acknowledge even when it is better."""
    return [
        fc for fc in comparison.figures
        if fc.gated and fc.figure.gated and (
            fc.verdict is Verdict.WORSE
            or (fc.verdict is Verdict.IMPROVED and fc.figure.changed_fails))
    ]


def require_comparable(comparison: Comparison, reference: str) -> None:
    """A reference of another workload, grid or profile definition cannot judge this run."""
    if comparison.mismatches:
        raise NoReference(
            "the reference does not match this run: " + "; ".join(comparison.mismatches),
            where=reference,
            fix="run with the reference's workload, grid and --clusters, or make a new "
                "reference from this run: bench reference save RUN_DIR")


def describe(fc: FigureComparison) -> str:
    """One line per regression: the figure, by how much, with its interval."""
    line = f"{fc.scope}: {fc.figure.label} {_word(fc)} {fc.change} ({_value(fc.a)} -> " \
           f"{_value(fc.b)})"
    if fc.interval is not None:
        low, high = fc.interval
        if fc.figure.absolute_threshold:
            line += f", 95 % interval of the change {low:+.3f} ... {high:+.3f}"
        else:
            line += f", 95 % interval of B/A {low:.3f} ... {high:.3f}"
    return f"{line}; {fc.why}"


def _word(fc: FigureComparison) -> str:
    return "changed" if fc.verdict is Verdict.IMPROVED else "regressed"


def _value(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
