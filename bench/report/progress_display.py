"""The run's progress on stderr (stdout is the answer's): the current step, trials done of all,
and the time left (bench.report.progress).

On a terminal, one live line, redrawn every second and cleared at the end; log records go above
it. Elsewhere (CI, a pipe, a file) a plain line per finished step and, inside a long step, at most
one line a minute, so a log shows where a run is.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from bench.execute.progress import RunObserver, Step, StepKind
from bench.report.progress import Eta, RunProgress
from bench.store.records import TrialResult

LINE_EVERY_S = 60.0  # off a terminal: at most one line a minute between finished steps
_DOING = {StepKind.STARTUP: "starting the cluster", StepKind.WARMUP: "warming up",
          StepKind.DEPLOYMENT: "deploying"}


def duration(seconds: float) -> str:
    """``42.7 s``, ``2 min 10 s``, ``1 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, s = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {s} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def time_left(eta: Eta) -> str:
    """The run's share done and its time left, e.g. ``run 63 % done (61/120 trials), about
    2 min 10 s left (model estimate)``."""
    trials = f"{eta.trials_done}/{eta.trials_total} trials"
    if eta.remaining_s is None or eta.fraction is None:
        return f"run {trials}, time left known after the first trial"
    left = 5 * round(eta.remaining_s / 5)  # an estimate: no false precision
    if left == 0:
        return f"run {math.floor(eta.fraction * 100)} % done ({trials})"
    said = f"about {duration(left)}" if left >= 60 else f"about {left} s"
    return (f"run {math.floor(eta.fraction * 100)} % done ({trials}), {said} left "
            f"({eta.basis} estimate)")


def finished_line(step: Step, seconds: float, trials: int, eta: Eta) -> str:
    """The line of a finished step."""
    if step.kind in (StepKind.GRID, StepKind.FLOOR):
        what = f"{step.kind.value}: {trials}/{step.trials} trials"
    elif step.kind is StepKind.DEPLOYMENT:
        what = f"{step.kind.value}: {step.rows:,} rows"
    else:
        what = step.kind.value
    return f"bench: [{step.label}] {what} in {duration(seconds)}; {time_left(eta)}"


def running_line(step: Step, seconds: float, trials: int, eta: Eta) -> str:
    """The line of a step still running, ``seconds`` in."""
    if step.kind in (StepKind.GRID, StepKind.FLOOR):
        doing = f"{trials}/{step.trials} trials"
    else:
        doing = _DOING[step.kind]
    return f"bench: [{step.label}] {doing}, {duration(seconds)} so far; {time_left(eta)}"


class ProgressDisplay(RunObserver):
    """Shows a run's progress on ``stream``: a live line (``live``) or plain lines."""

    def __init__(self, stream: TextIO, *, live: bool, clock: Callable[[], float] = time.monotonic,
                 every_s: float = LINE_EVERY_S) -> None:
        self.stream, self.live, self.clock, self.every_s = stream, live, clock, every_s
        self.progress = RunProgress([], clock)
        self.lock = threading.RLock()  # a floor's trials arrive in a thread of its pool
        self.last_line_at = clock()
        self.shown = 0  # characters of the live line on screen

    def planned(self, steps: Sequence[Step]) -> None:
        with self.lock:
            self.progress = RunProgress(list(steps), self.clock)
            self.last_line_at = self.clock()

    def started(self, step: Step) -> None:
        with self.lock:
            self.progress.start(step)
            self.tick()

    def trial_done(self, step: Step) -> None:
        with self.lock:
            self.progress.trial()
            self.tick()

    def finished(self, step: Step, seconds: float, trials: Sequence[TrialResult] = ()) -> None:
        with self.lock:
            arrived = self.progress.current_trials if self.progress.is_current(step) else 0
            self.progress.finish(step, trials, seconds)
            if self.live:
                self.tick()
            else:
                self._write(finished_line(step, seconds, arrived, self.progress.eta()))

    def skipped(self, step: Step) -> None:
        with self.lock:
            self.progress.skip(step)

    def tick(self) -> None:
        """Redraw the live line; off a terminal, a line about the running step when one is due."""
        with self.lock:
            step, p = self.progress.current, self.progress
            if self.live:
                self._draw(self._live_text())
            elif step is not None and self.clock() - self.last_line_at >= self.every_s:
                self._write(running_line(step, self.clock() - p.current_since, p.current_trials,
                                         p.eta()))

    def close(self) -> None:
        """Clear the live line."""
        with self.lock:
            self._draw("")

    def _live_text(self) -> str:
        step, p = self.progress.current, self.progress
        text = time_left(p.eta())
        if step is not None:
            doing = (f"{p.current_trials}/{step.trials} trials"
                     if step.kind in (StepKind.GRID, StepKind.FLOOR) else _DOING[step.kind])
            text = f"bench: [{step.label}] {doing} | {text}"
        width = shutil.get_terminal_size((100, 24)).columns - 1  # no wrap: \r returns one row
        return text[:width]

    def _draw(self, text: str) -> None:
        if not self.live or (not text and not self.shown):
            return
        self.stream.write("\r" + text + " " * max(0, self.shown - len(text)) + "\r" * (not text))
        self.stream.flush()
        self.shown = len(text)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
        self.last_line_at = self.clock()

    def write_above(self, text: str) -> None:
        """Write ``text`` (a log record) above the live line, which then comes back."""
        with self.lock:
            shown = self._live_text() if self.shown else ""
            self._draw("")
            self.stream.write(text)
            self._draw(shown)


class _Above:
    """A log handler's stream while the live line is up: records go above it."""

    def __init__(self, display: ProgressDisplay) -> None:
        self.display = display

    def write(self, text: str) -> None:
        self.display.write_above(text)

    def flush(self) -> None:
        self.display.stream.flush()


@contextlib.contextmanager
def progress_display(stream: TextIO | None = None, *, quiet: bool = False,
                     live: bool | None = None) -> Iterator[RunObserver]:
    """The run's progress on ``stream`` (stderr) while the block runs; nothing with ``quiet``.
    ``live`` defaults to whether the stream is a terminal."""
    if quiet:
        yield RunObserver()
        return
    stream = stream or sys.stderr
    if live is None:
        live = stream.isatty()
    display = ProgressDisplay(stream, live=live)
    stop = threading.Event()
    # The live line's clock and time left move every second; off a terminal the ticker only
    # checks whether a minute has passed.
    ticker = threading.Thread(target=_tick, args=(display, stop, 1.0 if live else 5.0),
                              name="bench-progress", daemon=True)
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and h.stream is stream] if live else []
    before = [h.setStream(_Above(display)) for h in handlers]  # type: ignore[arg-type]
    ticker.start()
    try:
        yield display
    finally:
        stop.set()
        ticker.join(timeout=5)
        display.close()
        for handler, old in zip(handlers, before, strict=True):
            handler.setStream(old)


def _tick(display: ProgressDisplay, stop: threading.Event, every_s: float) -> None:
    while not stop.wait(every_s):
        display.tick()
