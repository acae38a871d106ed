"""An explanation as a notebook shows it: each image with the map over it, the target's
label and probability, and the method (:meth:`neuromask.Explanation._repr_html_`)."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from ._figure import new_figure
from .grid import normalise_for_display
from .overlay import _as_rgb

if TYPE_CHECKING:  # Explanation calls this module to show itself: no import cycle at run time
    from ..types import Explanation

MAX_IMAGES = 8
"""Images drawn at most; a larger batch lists the rest in the table only."""


def _target_text(explanation: Explanation, i: int) -> str:
    index = int(explanation.target[i])
    if explanation.labels is None:
        return f"class {index}"
    return f"{explanation.labels[i]} ({index})"


def explanation_figure(explanation: Explanation, *, max_images: int = MAX_IMAGES, cmap: str = "jet") -> Figure:
    """One row per image (the first ``max_images``): the image, titled with the target's
    label and probability, and the map over it with a colour bar, titled with the method.

    A mask (NeuroMask, RISE, ...) is drawn on the fixed scale 0..1; any other map from its
    1st to its 99th percentile (:func:`~neuromask.viz.grid.normalise_for_display`).
    Without ``explanation.images``, the map alone.
    """
    mask = explanation.kind == "mask"
    rows = min(len(explanation), max_images)
    cols = 1 if explanation.images is None else 2
    fig = new_figure(figsize=(3.2 * cols + 0.6, 3.0 * rows), constrained_layout=True)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i in range(rows):
        att = explanation.attribution[i].numpy()
        shown = att if mask else normalise_for_display(att)
        title = f"{_target_text(explanation, i)}, p = {float(explanation.probability[i]):.3f}"
        ax = axes[i, -1]
        if explanation.images is None:
            drawn = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0)
            ax.set_title(f"{explanation.method}: {title}", fontsize=9)
        else:
            rgb = _as_rgb(explanation.images[i].permute(1, 2, 0).numpy())
            axes[i, 0].imshow(rgb)
            axes[i, 0].set_title(title, fontsize=9)
            ax.imshow(rgb)
            drawn = ax.imshow(shown, cmap=cmap, alpha=0.5, vmin=0.0, vmax=1.0)
            ax.set_title(explanation.method, fontsize=9)
        bar = fig.colorbar(drawn, ax=ax, fraction=0.046, pad=0.04)
        bar.set_label("mask" if mask else "relevance (percentiles 1-99)", fontsize=8)
        for a in axes[i]:
            a.axis("off")
    return fig


def explanation_png(explanation: Explanation, *, max_images: int = MAX_IMAGES, dpi: int = 80) -> bytes:
    """:func:`explanation_figure` as PNG bytes."""
    buffer = io.BytesIO()
    explanation_figure(explanation, max_images=max_images).savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def explanation_html(explanation: Explanation, *, max_images: int = MAX_IMAGES) -> str:
    """The explanation as HTML: a table (per image: the target's label and index, its
    probability, and for a mask method the probability on the masked image) and
    :func:`explanation_figure` as an embedded PNG."""
    n = len(explanation)
    masked = explanation.extras.get("masked_probability")
    masked_values = None if masked is None else np.asarray(masked, dtype=np.float64).reshape(-1)
    if masked_values is not None and masked_values.shape != (n,):
        masked_values = None
    head = "<tr><th>image</th><th>target</th><th>p(target)</th>"
    head += "<th>p(target), masked</th></tr>" if masked_values is not None else "</tr>"
    rows = []
    for i in range(n):
        cells = [str(i), html.escape(_target_text(explanation, i)), f"{float(explanation.probability[i]):.3f}"]
        if masked_values is not None:
            cells.append(f"{masked_values[i]:.3f}")
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    png = base64.b64encode(explanation_png(explanation, max_images=max_images)).decode("ascii")
    shown = f"the first {max_images} of {n} images" if n > max_images else f"{n} image{'s' if n != 1 else ''}"
    caption = f"<b>{html.escape(explanation.method)}</b> explanation of {shown}, {explanation.seconds:.2f} s"
    return (
        '<div class="neuromask-explanation">'
        f"<p>{caption}</p>"
        f"<table>{head}{''.join(rows)}</table>"
        f'<img src="data:image/png;base64,{png}" alt="{html.escape(explanation.method)} explanation" '
        'style="max-width: 100%"/>'
        "</div>"
    )
