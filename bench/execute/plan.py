"""Which profiles run measured, which replayed: a separate, testable decision that says why."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from bench.definitions.profile import ClusterProfile
from bench.errors import UserError
from bench.store.records import Mode

log = logging.getLogger(__name__)


class ModeChoice(str, enum.Enum):
    AUTO = "auto"
    MEASURED = "measured"
    REPLAY = "replay"


@dataclass(frozen=True)
class PlannedProfile:
    profile: ClusterProfile
    modes: tuple[Mode, ...]  # in the order they run on the profile's one cluster
    oversubscribed: bool  # nodes x cores exceed the host's usable cores
    reason: str


def plan(
    profiles: list[ClusterProfile], choice: ModeChoice, host_cores: int
) -> list[PlannedProfile]:
    """Decide the modes of every profile; the 1-node reference runs first.

    Replay needs trial durations measured on one node, so a 1-node profile always runs measured.
    In ``auto``, a profile that fits the host's cores runs measured *and* replayed (the difference
    is the replay error); one that does not fit is replayed (docs/method.md, "Modes").
    """
    references = [p for p in profiles if p.nodes == 1]
    planned = []
    for p in profiles:
        fits = p.nodes * p.cores <= host_cores or not p.is_local
        if p.nodes == 1:
            modes, reason = (Mode.MEASURED,), "1-node reference: its durations drive replay"
        elif choice is ModeChoice.MEASURED:
            modes = (Mode.MEASURED,)
            reason = "forced measured" + ("" if fits else " although oversubscribed")
        elif choice is ModeChoice.REPLAY:
            modes, reason = (Mode.REPLAY,), "replay asked for"
        elif fits:
            modes = (Mode.MEASURED, Mode.REPLAY)
            reason = f"{p.nodes} x {p.cores} cores fit the host's {host_cores}: measured and replay"
        else:
            modes = (Mode.REPLAY,)
            reason = (f"{p.nodes} x {p.cores} cores exceed the host's {host_cores}: replay "
                      "(--mode measured forces real trials)")
        oversubscribed = p.is_local and p.nodes * p.cores > host_cores and Mode.MEASURED in modes
        planned.append(PlannedProfile(p, modes, oversubscribed, reason))
    if any(Mode.REPLAY in pp.modes for pp in planned) and not references:
        raise UserError(
            "replay needs trial durations measured on 1 node, and no 1-node profile is listed",
            where="--clusters",
            fix="add a 1-node profile such as 'local', or use --mode measured",
        )
    if len(references) > 1:
        names = ", ".join(p.name for p in references)
        raise UserError(f"more than one 1-node profile ({names}): the reference is ambiguous",
                        where="--clusters", fix="list one 1-node profile")
    planned.sort(key=lambda pp: pp.profile.nodes != 1)  # stable: the reference first
    for pp in planned:
        log.info("%s: %s (%s)", pp.profile.name, "+".join(m.value for m in pp.modes), pp.reason)
    return planned
