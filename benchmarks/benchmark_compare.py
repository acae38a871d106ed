"""The benchmark through ``evaluate`` beside an earlier committed run: every figure, its difference,
and whether the two intervals overlap.

The earlier table is read from git (``git show REV:benchmarks/results/benchmark/summary.csv``,
the runner before ``evaluate``: columns ``mean, ci_low, ci_high``; its metric names are
the registry's), the new one from a folder's ``summary.csv`` (``mean, ci95_low, ci95_high``).
A figure *agrees* when the two 95 % intervals overlap; the two runs explain different image
files (the new one reads PNGs, 8-bit), and the new suite may hold more images (the
statistics of issue 16), so a difference inside the intervals is expected.

    python benchmarks/benchmark_compare.py --before 992d977 --after benchmarks/results/benchmark [--all-methods]

Prints Markdown and writes benchmarks/results/benchmark_compare.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RENAMED = {
    "energy_pointing_game": "energy",
    "equal_area_iou": "eq_iou",
    "pointing_game": "pointing",
    "randomisation_correlation": "randomisation",
}
SHOWN = ("energy", "auroc", "eq_iou", "pointing", "mass_margin", "own_above_other", "insertion_minus_deletion",
         "randomisation")  # fmt: skip


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def before(rev: str) -> dict[tuple[str, str, str], tuple[float, float, float, int]]:
    text = subprocess.run(
        ["git", "show", f"{rev}:benchmarks/results/benchmark/summary.csv"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    out = {}
    for r in csv.DictReader(io.StringIO(text)):
        key = (r["group"], r["method"], RENAMED.get(r["metric"], r["metric"]))
        out[key] = (_float(r["mean"]), _float(r["ci_low"]), _float(r["ci_high"]), int(r["n"] or 0))
    return out


def after(folder: Path) -> dict[tuple[str, str, str], tuple[float, float, float, int]]:
    with (folder / "summary.csv").open() as fh:
        return {
            (r["group"], r["method"], r["metric"]): (
                _float(r["mean"]), _float(r["ci95_low"]), _float(r["ci95_high"]), int(r["n"] or 0),
            )
            for r in csv.DictReader(fh)
        }  # fmt: skip


def _cell(v: tuple[float, float, float, int]) -> str:
    mean, low, high, n = v
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.3f}" + (f" [{low:.3f}, {high:.3f}]" if math.isfinite(low) else "") + f" n={n}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the git revision of the earlier committed run")
    parser.add_argument("--after", type=Path, default=ROOT / "benchmarks" / "results" / "benchmark")
    parser.add_argument("--method", default="neuromask", help="the method whose figures are listed")
    parser.add_argument("--all-methods", action="store_true", help="list every method")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "benchmark_compare.md")
    args = parser.parse_args()
    old, new = before(args.before), after(args.after)
    common = sorted(k for k in old.keys() & new.keys() if k[2] in SHOWN)
    lines = [f"# The benchmark through evaluate beside the run at {args.before}", "",
             "| group | method | metric | before | after | after − before | intervals overlap |",
             "|---|---|---|---|---|---:|---|"]  # fmt: skip
    apart = total = 0
    for key in common:
        a, b = old[key], new[key]
        if not (math.isfinite(a[0]) and math.isfinite(b[0])):
            continue
        overlap = not (math.isfinite(a[1]) and math.isfinite(b[1])) or (a[1] <= b[2] and b[1] <= a[2])
        total += 1
        apart += not overlap
        if args.all_methods or key[1] == args.method:
            lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {_cell(a)} | {_cell(b)} | {b[0] - a[0]:+.3f} | "
                         f"{'yes' if overlap else '**no**'} |")  # fmt: skip
    only_new = sorted({k[0] for k in new} - {k[0] for k in old})
    lines += ["", f"Of {total} figures in both runs (every method, the metrics above), {total - apart} have "
              f"overlapping 95 % intervals and {apart} do not." + (f" Groups only in the new run: "
              f"{', '.join(only_new)}." if only_new else ""), ""]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
