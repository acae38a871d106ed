"""The benchmark: the project's own data handed to ``evaluate``, and the report that reads the rows.

- :mod:`.suites`: what ``quick`` and ``full`` run (datasets, composites, photos, sizes, options, goals);
- :mod:`.groups`: each group written once as image and mask folders;
- :mod:`.runner`: :func:`neuromask.evaluate` on every group (one runner, one row format:
  ``groups/<group>/scores.parquet``, exactly once and resumable);
- :mod:`.report` and :mod:`.summary`: read the rows only and write the tables, charts,
  HTML page and ``SUMMARY.md``;
- :mod:`.rows`: a folder's rows as dicts, from this runner or the one before it.
"""

from .report import write_report
from .rows import Row, has_benchmark, has_rows, read_benchmark, read_rows
from .runner import run
from .suites import SUITES, Suite

__all__ = ["Row", "has_rows", "read_rows", "has_benchmark", "read_benchmark", "run", "write_report", "SUITES", "Suite"]
