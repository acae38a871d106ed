"""The benchmark: experiment rows, the runner that writes them, the report that reads them.

- :mod:`.rows`: one row per (group, method, image, metric) cell, appended to a JSONL
  file as each completes, so that an interrupted run resumes where it stopped;
- :mod:`.suites`: what ``quick`` and ``full`` run (datasets, photos, sizes, options);
- :mod:`.runner`: explains every image with every registered method and scores it;
- :mod:`.report`: reads the rows only and writes the tables, charts and HTML page.
"""

from .report import write_report
from .rows import Row, RowStore, has_rows, read_rows
from .runner import run
from .suites import SUITES, Suite

__all__ = ["Row", "RowStore", "has_rows", "read_rows", "run", "write_report", "SUITES", "Suite"]
