"""A chart (its numbers as text, its drawing) and the one way figures become PNG bytes.

matplotlib is imported on the first render only (it costs startup time), with the Agg backend set explicitly, so
nothing ever needs a display. Renders run one at a time in a worker thread (matplotlib's global state is not
thread-safe) and are deterministic: a fixed width and dpi, and no software name or date in the PNG's metadata.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import ChartUnavailable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

WIDTH_INCHES = 8.0
DPI = 100
MIN_HEIGHT_INCHES = 2.5
MAX_HEIGHT_INCHES = 9.0
MAX_PNG_BYTES = 1_000_000  # a chart is a glance, not a document; Slack itself takes far more
MAX_ALT_CHARS = 1000  # Slack's limit for a file's alt text

_lock = threading.Lock()


@dataclass(frozen=True)
class Chart:
    """One chart: ``key`` is what it is of (a plan or run id, one chart each), ``alt_text`` carries the same numbers
    as the image (and is what is posted when the image cannot be), ``draw`` draws it on an Axes."""

    kind: str  # "cost", "incident", "phases"
    key: str
    title: str
    alt_text: str
    draw: Callable[[Axes], None]
    height: float = 4.5  # inches; the width is fixed

    @property
    def filename(self) -> str:
        return f"{self.kind}-{self.key}.png"

    @property
    def alt(self) -> str:
        """The alt text within Slack's limit."""
        return clip(self.alt_text, MAX_ALT_CHARS)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _agg_matplotlib() -> Any:
    """matplotlib with the Agg backend (imported on first use); ChartUnavailable when it is not installed."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ChartUnavailable("matplotlib is not installed") from exc
    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg")
    return matplotlib


def png(chart: Chart) -> bytes:
    """The chart as PNG bytes (blocking: call ``render`` from async code). ChartUnavailable when it cannot be drawn."""
    with _lock:
        _agg_matplotlib()
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        height = min(max(chart.height, MIN_HEIGHT_INCHES), MAX_HEIGHT_INCHES)
        figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        chart.draw(axes)
        axes.set_title(clip(chart.title, 90), fontsize=11, loc="left")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
        data = buffer.getvalue()
    if len(data) > MAX_PNG_BYTES:
        raise ChartUnavailable(f"the {chart.kind} chart is {len(data)} bytes, over {MAX_PNG_BYTES}")
    return data


async def render(chart: Chart) -> bytes:
    """The chart as PNG bytes, drawn in a worker thread so the event loop never waits for it."""
    return await asyncio.to_thread(png, chart)


async def render_or_none(chart: Chart) -> bytes | None:
    """The chart as PNG bytes, or None when it cannot be drawn (for whatever reason: the caller posts its numbers as
    text instead, so a chart never costs the delivery it belongs to)."""
    try:
        return await render(chart)
    except Exception as exc:  # any failure of a drawing falls back to its text
        logger.warning(
            "the %s chart of %s could not be drawn (%s: %s); its numbers go out as text",
            chart.kind,
            chart.key,
            type(exc).__name__,
            exc,
        )
        return None
