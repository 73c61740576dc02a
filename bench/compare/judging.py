"""The judging of one figure of two results: B / A against the figure's threshold, the bootstrap
interval where there are repeats, and a verdict with the reason for it.

Verdicts: improved, worse, same (within the figure's threshold), inconclusive (beyond the
threshold but not significant, or too few repeats to test), not comparable (different workload,
grid or profile definition, or the figure missing on one side).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from bench.compare.figures import Figure
from bench.definitions.thresholds import Thresholds


class Verdict(str, enum.Enum):
    IMPROVED = "improved"
    WORSE = "worse"
    SAME = "same"
    INCONCLUSIVE = "inconclusive"
    NOT_COMPARABLE = "not comparable"


@dataclass(frozen=True)
class FigureComparison:
    scope: str  # "local (measured)", or "run" for the accuracy figures
    figure: Figure
    a: Any
    b: Any
    ratio: float | None  # B / A
    interval: tuple[float, float] | None  # 95 % bootstrap interval of B / A (B - A: overhead)
    verdict: Verdict
    why: str
    gated: bool  # the gate judges this comparison (a figure with enough repeats, comparable)
    gated_as: str = ""  # not gated itself: the label of the figure at equal speed that is

    @property
    def change(self) -> str:
        """How much worse (+) or better (-) B is, in the figure's own terms."""
        if self.figure.absolute_threshold and isinstance(self.a, float) and \
                isinstance(self.b, float):
            return f"{self.b - self.a:+.3f} {self.figure.unit}"
        if self.ratio is None:
            return ""
        return f"{(self.ratio - 1) * 100:+.1f} %"


def not_comparable(scope: str, figure: Figure, a: Any, b: Any, why: str) -> FigureComparison:
    return FigureComparison(scope, figure, a, b, None, None, Verdict.NOT_COMPARABLE, why, False)


def shown_only(fc: FigureComparison, gated_by: Figure) -> FigureComparison:
    """A figure the gate judges at equal machine speed instead: shown, with its verdict, not
    gated."""
    return dataclasses.replace(fc, gated=False, gated_as=gated_by.label,
                               why=f"{fc.why}; gated as '{gated_by.label}'")


def both_ways(equal: FigureComparison, measured: FigureComparison,
              limits: Thresholds) -> FigureComparison:
    """A verdict at equal machine speed stands only when the figure as measured moved the same
    way beyond the same threshold.

    The probe and the trials do not feel the machine's drift alike: in the gate's proof on the
    2-core host (2026-12-01) the probe moved 14-27 % where the trials moved 6-16 %. Divided by
    it, a run on a faster machine looked 16 % slower. A trial that really got slower is slower
    both as measured and at equal machine speed; a drift of the machine, over- or
    under-corrected, makes the two disagree.
    """
    if equal.verdict not in (Verdict.WORSE, Verdict.IMPROVED) or measured.ratio is None:
        return equal
    threshold = getattr(limits, equal.figure.threshold)
    worse_by = (1 - measured.ratio) if measured.figure.higher_is_better else (measured.ratio - 1)
    if worse_by > threshold if equal.verdict is Verdict.WORSE else -worse_by > threshold:
        return equal
    return dataclasses.replace(
        equal, verdict=Verdict.INCONCLUSIVE,
        why=f"{equal.why} at equal machine speed, but {measured.change} as measured: the "
            "machine's drift, not told apart from the code")


def exact(scope: str, figure: Figure, a: Any, b: Any, why: str = "") -> FigureComparison:
    """A figure that is deterministic for a seed: any difference is a change."""
    if a is None or b is None:
        return FigureComparison(scope, figure, a, b, None, None, Verdict.NOT_COMPARABLE,
                                "missing on one side", False)
    ratio = b / a if isinstance(a, (int, float)) and a else None
    if a == b:
        verdict, why = Verdict.SAME, why or "exact: identical"
    else:
        better = (b > a) == figure.higher_is_better
        verdict = Verdict.IMPROVED if better else Verdict.WORSE
        why = why or "exact for a seed: any change is a change"
    return FigureComparison(scope, figure, a, b, ratio, None, verdict, why, True)


def judge(scope: str, figure: Figure, a: float | None, b: float | None, limits: Thresholds,
          interval: tuple[float, float] | None, repeats_ok: bool = True) -> FigureComparison:
    """A measured figure: same within its threshold; beyond it, worse or improved when the
    interval (if any) excludes no change, else inconclusive; not judged without the repeats."""
    if a is None or b is None:
        return FigureComparison(scope, figure, a, b, None, None, Verdict.NOT_COMPARABLE,
                                "missing on one side", False)
    threshold = getattr(limits, figure.threshold)
    ratio = b / a if a else None
    if figure.absolute_threshold:
        worse_by = (b - a) if not figure.higher_is_better else (a - b)
        no_change = 0.0
        shown = f"{threshold:g} {figure.unit}"
    else:
        if ratio is None:
            return FigureComparison(scope, figure, a, b, None, interval, Verdict.NOT_COMPARABLE,
                                    "A is 0", False)
        worse_by = (ratio - 1) if not figure.higher_is_better else (1 - ratio)
        no_change = 1.0
        shown = f"{threshold * 100:g} %"
    beyond = abs(worse_by) > threshold
    direction = Verdict.WORSE if worse_by > 0 else Verdict.IMPROVED
    if not repeats_ok:
        verdict = Verdict.INCONCLUSIVE if beyond else Verdict.SAME
        why = (f"fewer than {limits.min_repeats} repeats a side: no significance test"
               + (f", within {shown}" if not beyond else ""))
        return FigureComparison(scope, figure, a, b, ratio, None, verdict, why, False)
    if not beyond:
        return FigureComparison(scope, figure, a, b, ratio, interval, Verdict.SAME,
                                f"within {shown}", True)
    if interval is not None and interval[0] <= no_change <= interval[1]:
        return FigureComparison(scope, figure, a, b, ratio, interval, Verdict.INCONCLUSIVE,
                                f"beyond {shown} but not significant", True)
    why = f"beyond {shown}" + (", significant" if interval is not None else ", 1 repeat")
    return FigureComparison(scope, figure, a, b, ratio, interval, direction, why, True)
