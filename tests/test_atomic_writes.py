"""Every table the library writes goes through the atomic write: a writer that fails half-way
leaves the previous file as it was and no temporary file beside it (issue 17)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from neuromask._core import atomic_path
from neuromask.bench.report import write_summary_csv
from neuromask.evaluation.report import _write_csv
from neuromask.evaluation.stats import Estimate


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert _only(tmp_path) == ["table.csv"]
    with atomic_path(target) as tmp:
        tmp.write_text("new\n")
    assert target.read_text() == "new\n"
    assert _only(tmp_path) == ["table.csv"]


def test_evaluate_summary_csv_failing_on_its_second_row_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.csv"
    target.write_text("old\n")
    good = {"method": "saliency", "metric": "energy", "n": 3, "mean": 0.5, "ci95_low": 0.4, "ci95_high": 0.6,
            "rank": 1, "higher_is_better": True, "undefined": 0, "failed": 0}  # fmt: skip
    broken = {k: v for k, v in good.items() if k != "mean"}  # the writer raises KeyError on it, after one row
    with pytest.raises(KeyError):
        _write_csv(target, [good, broken])
    assert target.read_text() == "old\n"
    assert _only(tmp_path) == ["summary.csv"]
    _write_csv(target, [good])
    assert target.read_text().splitlines()[1].startswith("saliency,energy,3,0.5")


class _FailsOnSecond(dict[Any, Any]):
    """A cell table whose second lookup fails, as a bug half-way through a report would."""

    calls = 0

    def get(self, key: Any, default: Any = None) -> Any:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("bug half-way")
        return super().get(key, default)


def test_benchmark_summary_csv_failing_half_way_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.csv"
    target.write_text("old\n")
    cells = _FailsOnSecond({("a", "energy"): Estimate(0.5, 0.4, 0.6, 3), ("b", "energy"): Estimate(0.2, 0.1, 0.3, 3)})
    stats = SimpleNamespace(methods=["a", "b"], metrics=["energy"], cells=cells, ranks={}, undefined={}, failed={})
    with pytest.raises(RuntimeError, match="half-way"):
        write_summary_csv(target, {"g": stats})  # type: ignore[dict-item]
    assert target.read_text() == "old\n"
    assert _only(tmp_path) == ["summary.csv"]
