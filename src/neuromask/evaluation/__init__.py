"""Which explanation method can I trust on my model? Score every method on a dataset, with a report.

::

    import neuromask
    result = neuromask.evaluate("cells/", "cells-cnn.pt", ["saliency", "gradcam", "neuromask"],
                                "out/eval", masks="cells_masks/")
    print(result.recommendation)
    result.summary      # rows of summary.csv: method, metric, n, mean, ci95_low, ci95_high, rank

The parts: :mod:`.truth` (masks and boxes), :mod:`.metrics` (the metric names and what
each needs), :mod:`.score` (a worker's scoring batch), :mod:`.run` (the two stages, on the
dataset engine of :mod:`neuromask.runs`), :mod:`.stats` (intervals, paired differences,
ranks, the winner's share) and :mod:`.report` (summary.csv, report.md, report.html).
"""

from .metrics import ALIASES, DEFAULT
from .metrics import names as metric_names
from .report import write_report
from .run import SCORE_SCHEMA, Evaluation, evaluate, read_scores
from .truth import Boxes, MaskFolder, TruthError

__all__ = [
    "evaluate",
    "Evaluation",
    "read_scores",
    "write_report",
    "metric_names",
    "ALIASES",
    "DEFAULT",
    "SCORE_SCHEMA",
    "MaskFolder",
    "Boxes",
    "TruthError",
]
