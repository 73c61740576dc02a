"""Printers of a Comparison: a terminal table, markdown, and JSON with stable keys."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from bench.compare import gate
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


def _verdict_counts(comparison: Comparison) -> str:
    counts = Counter(fc.verdict.value for fc in comparison.figures)
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.most_common())


def _markdown_table(comparison: Comparison) -> list[str]:
    md = [tabulate(_rows(comparison), headers=HEADERS, tablefmt="github", disable_numparse=True)]
    extra = comparison.mismatches + comparison.notes
    if extra:
        md += ["", *(f"- {n}" for n in extra)]
    return md


def to_markdown(comparison: Comparison) -> str:
    """For a pull request's comment or $GITHUB_STEP_SUMMARY: the verdicts counted, then every
    figure."""
    md = ["# bench compare", "", *(f"- {line}" for line in _header(comparison)),
          f"- figures: {_verdict_counts(comparison) or 'none'}", "", *_markdown_table(comparison)]
    return "\n".join(md) + "\n"


@dataclass(frozen=True)
class GateOutcome:
    """What `bench check` found: the regressions and what was judged, for every format."""

    comparison: Comparison
    reference: str  # the reference's label
    found: list[FigureComparison]  # the regressions
    judged: int  # figures the gate judged
    shown: int  # figures shown as measured, judged at equal machine speed
    skipped: list[FigureComparison]  # gated figures left unjudged, each with its why
    fix: str  # what to do about a regression

    @classmethod
    def of(cls, comparison: Comparison, reference: str, fix: str) -> GateOutcome:
        return cls(comparison, reference, gate.regressions(comparison),
                   sum(1 for fc in comparison.figures if fc.gated and fc.figure.gated),
                   sum(1 for fc in comparison.figures if fc.gated_as),
                   [fc for fc in comparison.figures
                    if not fc.gated and fc.figure.gated and not fc.gated_as], fix)

    def judged_text(self) -> str:
        return (f"{self.judged} figures judged"
                + (f"; {self.shown} as measured, judged at equal machine speed"
                   if self.shown else "")
                + (f"; {len(self.skipped)} not judged: {self.skipped[0].why}"
                   if self.skipped else ""))

    def headline(self) -> str:
        if self.found:
            return f"bench check: {len(self.found)} regression(s) against {self.reference}:"
        return f"bench check: no regression against {self.reference} ({self.judged_text()})"


def gate_lines(outcome: GateOutcome) -> list[str]:
    """The verdict under the table: the headline, each regression, the fix."""
    if not outcome.found:
        return [outcome.headline()]
    return [outcome.headline(), *(f"  - {gate.describe(fc)}" for fc in outcome.found),
            f"  {outcome.fix}"]


def gate_markdown(outcome: GateOutcome) -> str:
    """A comment ready for a pull request or $GITHUB_STEP_SUMMARY: the verdict first, every
    figure folded under it."""
    c = outcome.comparison
    if outcome.found:
        md = [f"## bench check: {len(outcome.found)} regression(s)", "",
              f"Against `{outcome.reference}` (B: `{c.b_label}`):", "",
              *(f"- {gate.describe(fc)}" for fc in outcome.found), "", outcome.fix]
    else:
        md = ["## bench check: no regression", "",
              f"Against `{outcome.reference}` (B: `{c.b_label}`): {outcome.judged_text()}."]
    md += ["", f"<details><summary>Every figure ({_verdict_counts(c) or 'none'})</summary>", "",
           *_markdown_table(c), "", "</details>"]
    return "\n".join(md) + "\n"


def gate_json(outcome: GateOutcome) -> dict[str, Any]:
    """The comparison's JSON and the gate's verdict under "gate"."""
    return to_json(outcome.comparison) | {"gate": {
        "status": "regression" if outcome.found else "pass",
        "reference": outcome.reference,
        "regressions": [{"scope": fc.scope, "figure": fc.figure.key, "line": gate.describe(fc)}
                        for fc in outcome.found],
        "judged": outcome.judged, "shown_as_measured": outcome.shown,
        "not_judged": [{"scope": fc.scope, "figure": fc.figure.key, "why": fc.why}
                       for fc in outcome.skipped],
    }}


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
