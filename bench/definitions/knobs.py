"""Knobs that make a run deliberately worse, to prove the regression gate catches it.

They are for testing the gate (``tests/benchmarks/test_gate_proof.py``, ``.ci/run``), never for
measuring: a run made with one says so on its first line, in ``run.json`` and in its report, and
``bench reference save`` refuses it.

- ``BENCH_TEST_SLOWDOWN=0.2``: every real trial spins the CPU for 20 % of its compute's CPU time
  more, inside its train phase: more work, as a real regression, so its wall time and its CPU
  time both grow. Replay durations come from the same run's 1-node trials, so surrogate trials are
  slowed by the same fraction.
- ``BENCH_TEST_SEED_OFFSET=1``: trains with the workload's seed plus 1, a stand-in for a code change
  that alters the results but not the timings.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from bench.errors import UserError

SLOWDOWN = "BENCH_TEST_SLOWDOWN"
SEED_OFFSET = "BENCH_TEST_SEED_OFFSET"


@dataclass(frozen=True)
class TestKnobs:
    __test__ = False  # not a pytest test class, despite its name

    slowdown: float = 0.0  # fraction of each trial's compute CPU time spun on top
    seed_offset: int = 0

    @property
    def active(self) -> bool:
        return self != TestKnobs()

    def describe(self) -> str:
        parts = []
        if self.slowdown:
            parts.append(f"{SLOWDOWN}={self.slowdown:g}: every trial is slowed by "
                         f"{self.slowdown * 100:g} %")
        if self.seed_offset:
            parts.append(f"{SEED_OFFSET}={self.seed_offset}: trials use the workload's seed "
                         f"+ {self.seed_offset}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_test_knobs(environ: dict[str, str] | None = None) -> TestKnobs:
    env = os.environ if environ is None else environ
    slowdown = _parse(env, SLOWDOWN, float, "a fraction of 0 or more, e.g. 0.2 for 20 %")
    seed_offset = _parse(env, SEED_OFFSET, int, "a whole number, e.g. 1")
    if slowdown is not None and not 0 <= slowdown < 100:
        raise UserError(f"{SLOWDOWN}={env[SLOWDOWN]} is out of range", where="environment",
                        fix="give a fraction of 0 or more, e.g. 0.2 for 20 %, or unset it")
    return TestKnobs(slowdown=slowdown or 0.0, seed_offset=seed_offset or 0)


def _parse(env: Any, name: str, kind: type, expected: str) -> Any:
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise UserError(f"{name}={text!r} is not {expected}", where="environment",
                        fix=f"set it to {expected}, or unset it (it is for testing the gate)",
                        ) from None
