"""What every picture shares: its size and canvas, the modes' and phases' colours, the empty
picture, the PNG."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.store.records import Mode

DPI = 110
# Okabe-Ito colours (readable by colour-blind people) plus a hatch, so a mode survives grey print.
MODE_STYLE: dict[Mode, dict[str, Any]] = {
    Mode.MEASURED: {"color": "#0072B2", "hatch": "", "marker": "o"},
    Mode.REPLAY: {"color": "#E69F00", "hatch": "//", "marker": "s"},
    Mode.MODEL: {"color": "#999999", "hatch": "..", "marker": "^"},
}
PHASE_COLOURS = {
    "waiting": "#A0A0A0", "fetch": "#56B4E9", "probe": "#000000", "build": "#CC79A7",
    "train": "#0072B2", "evaluate": "#009E73", "cleanup": "#F0E442", "collect": "#D55E00",
}
IDLE_COLOUR = "#F4F4F4"


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # an Agg canvas of its own: no backend switching, no pyplot
    return fig


def empty(fig: Figure, title: str, why: str) -> Figure:
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_axis_off()
    return fig


def percent(value: float) -> str:
    return f"{value * 100:.2f} %"


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_png(fig: Figure, path: Path) -> bytes:
    """Write ``fig`` as a PNG at ``path``; return the bytes written (report.html embeds them)."""
    data = png_bytes(fig)
    path.write_bytes(data)
    return data
