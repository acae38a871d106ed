"""A figure drawn by the Agg canvas directly, without pyplot.

pyplot keeps a global current backend and a list of open figures; a library that calls
``matplotlib.use("Agg")`` at import switches a notebook user's backend under them. A
``Figure`` attached to an Agg canvas draws and saves without touching either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._core import atomic_path


def new_figure(**kwargs: Any) -> Figure:
    """``matplotlib.figure.Figure(**kwargs)`` on its own Agg canvas (no pyplot state)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix), atomically: an interrupted save leaves no half file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return path
