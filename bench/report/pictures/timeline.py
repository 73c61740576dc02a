"""A grid run as slots x time: each trial's bar cut into its phases, idle slot time behind."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bench.report.pictures.drawing import IDLE_COLOUR, PHASE_COLOURS, empty, new_figure
from bench.store.records import PHASES, TrialResult, TrialStatus


def timeline(trials: Sequence[TrialResult], title: str, slots: int | None = None) -> Figure:
    """One grid run as slots x time: a bar per trial, cut into its phases. Gaps are idle slot
    time; of ``slots``, those that ran no trial are drawn as empty lanes. "waiting" is drawn
    only while the trial's slot was free (dispatch or the slot's previous trial, whichever is
    later, to the start): a trial queued behind a busy slot does not make that slot idle."""
    drawn = [t for t in trials if t.started_at is not None and t.ended_at is not None]
    lane_of, lanes = _lanes(drawn)
    # A slot the grid never used is idle all the time: it belongs in the picture.
    lanes += ["slot without a trial"] * max(0, (slots or 0) - len(lanes))
    fig = new_figure(10, 2.0 + 0.45 * max(1, len(lanes)))
    if not drawn:
        return empty(fig, title, "no trial reported its start and end")
    ax = fig.add_subplot()
    t0 = min(t.dispatched_at if t.dispatched_at is not None else t.started_at for t in drawn)
    t1 = max(t.received_at if t.received_at is not None else t.ended_at for t in drawn)
    free_since: dict[int, float] = {}
    for y in range(len(lanes)):
        ax.barh(y, t1 - t0, left=0, height=0.8, color=IDLE_COLOUR, edgecolor="#CCCCCC",
                linewidth=0.5, gid=f"idle:{y}")
    busy: dict[int, float] = defaultdict(float)
    for t in sorted(drawn, key=lambda t: t.started_at):
        y = lane_of[t.trial_id, t.attempt]
        start = t.started_at - t0
        waited_from = max(t.dispatched_at - t0 if t.dispatched_at is not None else start,
                          free_since.get(y, 0.0))
        end = t.ended_at - t0
        received = t.received_at - t0 if t.received_at is not None else end
        for phase, left, width in _segments(t, waited_from, start, end, received):
            if width > 0:
                ax.barh(y, width, left=left, height=0.8, color=PHASE_COLOURS[phase],
                        gid=f"trial:{t.trial_id}:{phase}")
        ax.barh(y, end - start, left=start, height=0.8, fill=False, edgecolor="#333333",
                linewidth=0.6, gid=f"trial:{t.trial_id}:task")
        if t.status is not TrialStatus.OK:
            ax.text(start + (end - start) / 2, y, t.status.value, ha="center", va="center",
                    fontsize=7, color="#FFFFFF", fontweight="bold")
        busy[y] += end - start
        free_since[y] = received
    span = t1 - t0
    for y in range(len(lanes)):
        ax.text(span * 1.01, y, f"busy {busy[y] / span * 100:.0f} %" if span else "",
                va="center", fontsize=8)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.invert_yaxis()
    ax.set_xlim(0, span * 1.1 if span else 1)
    ax.set_xlabel("seconds since the first trial was dispatched")
    ax.set_title(title)
    _phase_legend(fig, drawn)
    if missing := len(trials) - len(drawn):
        ax.text(0, 1.01, f"{missing} trials without a start or end are not drawn",
                transform=ax.transAxes, fontsize=8, color="#AA0000")
    return fig


def _segments(t: TrialResult, waited_from: float, start: float, end: float,
              received: float) -> list[tuple[str, float, float]]:
    """(phase, left, width) of one trial's bar: its wait for the slot, its phases one after
    another from its start, its result's way to the driver."""
    segments = [("waiting", waited_from, max(0.0, start - waited_from))]
    at = start
    for phase in PHASES[1:-1]:  # measured inside the task, one after another
        segments.append((phase, at, t.phases.get(phase, 0.0)))
        at += t.phases.get(phase, 0.0)
    segments.append(("collect", end, max(0.0, received - end)))
    return segments


def _phase_legend(fig: Figure, drawn: Sequence[TrialResult]) -> None:
    present = [p for p in PHASES if any(
        p == "waiting" or t.phases.get(p) or p == "collect" for t in drawn)]
    handles = [Patch(color=PHASE_COLOURS[p], label=p) for p in present]
    handles.append(Patch(facecolor=IDLE_COLOUR, edgecolor="#CCCCCC", label="idle"))
    # Below the axes, outside them: constrained layout makes room, nothing overlaps the x label.
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8,
               frameon=False)


def _lanes(trials: Sequence[TrialResult]) -> tuple[dict[tuple[str, int], int], list[str]]:
    """A lane per slot: each executor (on its host) gets as many lanes as it ran trials at once,
    a trial takes the first of its executor's lanes free at its start."""
    by_executor: dict[tuple[str, str], list[TrialResult]] = defaultdict(list)
    for t in trials:
        if t.started_at is not None and t.ended_at is not None:
            by_executor[(t.host or "?", t.executor_id or "?")].append(t)
    lane_of: dict[tuple[str, int], int] = {}
    names: list[str] = []
    for (host, executor), members in sorted(by_executor.items(), key=_executor_order):
        ends: list[float] = []  # end time of each of this executor's lanes
        first = len(names)
        for t in sorted(members, key=lambda t: t.started_at):
            free = next((i for i, end in enumerate(ends) if end <= t.started_at), None)
            if free is None:
                ends.append(t.ended_at)
                free = len(ends) - 1
            ends[free] = t.ended_at
            lane_of[(t.trial_id, t.attempt)] = first + free
        names += [f"executor {executor} @ {host}" + (f" #{i + 1}" if len(ends) > 1 else "")
                  for i in range(len(ends))]
    return lane_of, names


def _executor_order(item: tuple[tuple[str, str], Any]) -> tuple:
    host, executor = item[0]
    return (int(executor), "", host) if executor.isdigit() else (math.inf, executor, host)
