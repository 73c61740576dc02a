"""How much worse a figure may get before the gate calls it a regression (a workload's [check]).

Relative thresholds are fractions of the reference's value; ``overhead_per_trial_s`` is in seconds,
because a difference of small overheads makes no stable ratio. Deterministic figures (test errors,
trial counts, Spark task counts) have no threshold: any change is a change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from bench.definitions.tomlfile import Table, positive


@dataclass(frozen=True)
class Thresholds:
    # Absolute times need repeats: with fewer than min_repeats on a side they are not gated. These
    # two judge runs without a machine probe (made before it): above the drift of a shared
    # machine between runs (A/A runs on a 2-core host moved the local grid's wall time by up to
    # 27 %, 2026-12-01).
    wall_time: float = 0.35
    trial_time: float = 0.35
    # The same times at equal machine speed (divided by the machine probe of their repeat), which
    # the gate judges when both runs have probes; the times as measured must agree (beyond this
    # threshold too).
    normalized_time: float = 0.10
    # Trial CPU time: the work done, which other tenants stretch less than wall times (2-4 % here
    # where wall times moved 40 %, at load 1), but not nothing: +10.5 % between two runs of
    # unchanged code in CI (2026-12-02), +50 % at load 14. Judged as measured, above that drift.
    cpu_time: float = 0.25
    speedup: float = 0.10
    efficiency_vs_bound: float = 0.10
    overhead_per_trial_s: float = 0.25
    min_repeats: int = 3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Thresholds:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def read_thresholds(table: Table) -> Thresholds:
    """A workload's ``[check]`` table; every key optional."""
    defaults = Thresholds()
    values = {}
    for f in fields(Thresholds):
        kind = int if f.name == "min_repeats" else float
        values[f.name] = table.get(f.name, kind, default=getattr(defaults, f.name),
                                   check=positive)
    table.finish()
    return Thresholds(**values)
