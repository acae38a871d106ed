"""A figure drawn by the Agg canvas directly, without pyplot.

pyplot keeps a global current backend and a list of open figures; a library that calls
``matplotlib.use("Agg")`` at import switches a notebook user's backend under them. A
``Figure`` attached to an Agg canvas draws and saves without touching either.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def new_figure(**kwargs: Any) -> Figure:
    """``matplotlib.figure.Figure(**kwargs)`` on its own Agg canvas (no pyplot state)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig
