"""``SUMMARY.md``: the benchmark's findings in sentences, every number read from the rows.

Nothing here is typed by hand: the groups and their sizes, the highlighted method against
the best other method on every goal (with the paired interval of the gap and the verdict),
the two-object scenes, the randomisation check beside every other method, the photos'
insertion − deletion, where the method loses and the failures are all computed from
``rows.parquet`` by :mod:`neuromask.bench.report`, and rewritten with it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..outputs import Cell, Page
from .suites import DEV_PHOTOS, Goals
from .tables import CORRECT, DERIVED, GroupStats, Verdict, interval


def display(group: str) -> str:
    """A group's name as the summary says it."""
    if group.startswith("composites-"):
        kind = group.rsplit("-", 1)[1]
        return {"flat": "composites, flat", "texture": "composites, texture", "pairs": "two-object scenes"}.get(
            kind, group
        )
    if group.startswith("photos-"):
        return "photos"
    return group.removesuffix("-cnn").removesuffix("-bnn")


def _units(stats: GroupStats) -> str:
    if stats.clusters:
        return f"{len(set(stats.clusters.values()))} scenes = {len(stats.images)} images"
    return f"{len(stats.images)}"


def _latest(machine: dict[str, Any]) -> dict[str, Any]:
    runs = machine.get("runs") if isinstance(machine.get("runs"), list) else [machine]
    return runs[-1] if runs and isinstance(runs[-1], dict) else {}


def _num(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.3f}"


def write_summary(
    out: Path, groups: dict[str, GroupStats], verdicts: list[Verdict], goal: Goals, machine: dict[str, Any]
) -> Path:
    """Write ``DIR/SUMMARY.md`` from the groups' statistics and the goals' verdicts; return its path."""
    ours = goal.highlight
    run = _latest(machine)
    methods = sorted({m for s in groups.values() for m in s.methods})
    page = Page(f"Benchmark summary: the {run.get('suite', '?')} suite, {ours} at its defaults")
    page.paragraph(
        f"**What ran.** `neuromask benchmark --suite {run.get('suite', '?')}`: {len(methods)} methods "
        f"({', '.join(methods)}), each at its defaults with pixel-sized options scaled to the image, on these "
        "groups (every number below is read from `rows.parquet`; `neuromask benchmark --report-only --out DIR` "
        "rewrites this file):"
    )
    sizes: list[list[str | Cell]] = []
    for name, stats in groups.items():
        sanity = stats.cells.get((ours, "randomisation"))
        sizes.append([display(name), f"`{name}`", _units(stats), str(sanity.n) if sanity else "–"])
    page.table(["group", "rows", "images", f"randomisation on ({ours})"], sizes)
    page.paragraph(
        "Every figure is a mean with a 95 % interval: a percentile bootstrap of the images (of the scenes for "
        "two-object scenes, whose two explanations are resampled together), Wilson's interval for proportions. "
        "Comparisons are paired: a verdict such as *within 0.02 of the best* is read from the bootstrap interval "
        "of the difference between the two methods on the same images, not from the two means."
    )
    if run:
        page.paragraph(
            f"**Where it ran.** {run.get('cpu')} ({run.get('cores_usable')} cores usable"
            + (f", {run['gpu']}" if run.get("gpu") else "")
            + f"), torch {run.get('torch')}, device {run.get('device')}, commit {run.get('neuromask_commit')}, "
            f"started {run.get('started')} (load average {_num(run.get('load_average_1min_at_start') or math.nan)}). "
            "The `seconds` rows are that machine's."
        )
    page.heading(2, f"{ours} against the best other method (paired)")
    rows: list[list[str | Cell]] = [
        [display(v.group), v.what, v.ours, v.against, Cell(v.verdict, bold="first" not in v.verdict)]
        for v in verdicts
        if v.what in goal.localisation
    ]
    page.table(["group", "metric", ours, "best other; gap (best − ours)", "verdict"], rows)
    _pairs(page, groups, ours, goal)
    _randomisation(page, groups, ours, goal)
    _photos(page, groups, ours, verdicts)
    losses = [v for v in verdicts if "missed" in v.verdict or "undecided" in v.verdict]
    page.heading(2, "Where it loses or cannot be told apart")
    page.items([f"{display(v.group)}: {v.what}: {v.ours}; {v.against}: {v.verdict}." for v in losses] or ["nowhere"])
    failures = [(name, m, e, k) for name, s in groups.items() for (m, e), k in sorted(s.errors.items())]
    page.heading(2, "Failures")
    page.items([f"{display(n)} / {m}: {k} row(s): `{e}`" for n, m, e, k in failures] or ["none"])
    page.heading(2, "Elsewhere")
    page.paragraph(
        "Steps against quality: `../neuromask_steps.md`; seconds per image on an idle machine: `../speed.md`, "
        "`../speed_methods.md`; the suite's time: `../full_suite_estimate.md`."
    )
    page.heading(2, "How to reproduce")
    page.preformatted(
        "neuromask benchmark --suite full --out benchmarks/results/benchmark      # resumable; rerun to continue\n"
        "neuromask benchmark --suite full --out benchmarks/results/benchmark --report-only"
    )
    return page.write(out / "SUMMARY.md", None)[0]


def _pairs(page: Page, groups: dict[str, GroupStats], ours: str, goal: Goals) -> None:
    for name, stats in groups.items():
        if (ours, CORRECT) not in stats.cells:
            continue
        share, margin = stats.cells[(ours, CORRECT)], stats.cells[(ours, "mass_margin")]
        hits = round(share.mean * share.n)
        scenes = len(set((stats.clusters or {}).values()))
        others = sorted(
            (m for m in stats.values["mass_margin"] if m != ours and stats.cells[(m, "mass_margin")].n),
            key=lambda m: -stats.cells[(m, "mass_margin")].mean,
        )[:3]
        page.heading(2, f"Two-object scenes ({display(name)})")
        page.paragraph(
            f"The own object gets more of {ours}'s mass than the other in {hits} of {share.n} cases "
            f"({scenes} scenes): {interval(share)} (Wilson, counted over scenes); goal at least "
            f"{goal.min_correct:.0%}. The mean own-minus-other margin is {interval(margin)}, goal at least "
            f"{goal.min_margin}. Next: "
            + ", ".join(f"{m} {_num(stats.cells[(m, 'mass_margin')].mean)}" for m in others)
            + "."
        )


def _randomisation(page: Page, groups: dict[str, GroupStats], ours: str, goal: Goals) -> None:
    names = [n for n, s in groups.items() if "randomisation" in s.values]
    if not names:
        return
    methods = sorted({m for n in names for m in groups[n].values["randomisation"]})
    methods = [ours] + [m for m in methods if m != ours] if ours in methods else methods
    rows: list[list[str | Cell]] = []
    for m in methods:
        cells: list[str | Cell] = [Cell(m, bold=m == ours)]
        for n in names:
            est = groups[n].cells.get((m, "randomisation"))
            cells.append("–" if est is None or not est.n else _num(est.mean))
        rows.append(cells)
    page.heading(2, "Randomisation")
    page.paragraph(
        "The rank correlation between a method's map for the trained model and its map for the same network "
        f"with every weight re-drawn (lower is better; goal for {ours}: below {goal.max_randomisation}), on "
        "the images in the first table's last column, spread over each group:"
    )
    page.table(["method"] + [display(n) for n in names], rows)
    page.items(
        [
            f"{display(n)}: {ours} {interval(est)} (n={est.n})."
            for n in names
            if (est := groups[n].cells.get((ours, "randomisation"))) is not None and est.n
        ]
    )


def _photos(page: Page, groups: dict[str, GroupStats], ours: str, verdicts: list[Verdict]) -> None:
    for name, stats in groups.items():
        if not name.startswith("photos-") or DERIVED not in stats.values:
            continue
        dev = {spec.partition(":")[2].split(".")[0] + ".png" for spec in DEV_PHOTOS}
        test = [i for i, image in enumerate(stats.images) if image not in dev]
        rows: list[list[str | Cell]] = []
        for m in sorted(stats.values[DERIVED], key=lambda m: -stats.cells[(m, DERIVED)].mean):
            held = stats.values[DERIVED][m][test]
            held_mean = float(np.nanmean(held)) if np.isfinite(held).any() else math.nan
            rows.append([Cell(m, bold=m == ours), interval(stats.cells[(m, DERIVED)]),
                         str(stats.cells[(m, DERIVED)].n), _num(held_mean)])  # fmt: skip
        page.heading(2, "Photos: insertion − deletion")
        page.paragraph(
            f"On {len(stats.images)} offline photos whose object is an ImageNet class ({', '.join(stats.images)}), "
            f"each explained for the model's top-1 class. {len(dev & set(stats.images))} of them were used to tune "
            "the defaults (the last column leaves them out)."
        )
        page.table(["method", "insertion − deletion", "n", "without the tuning photos"], rows)
        page.items([f"{v.what}: {ours} {v.ours}; {v.against}: {v.verdict}." for v in verdicts
                    if v.group == name and v.what == "insertion − deletion"])  # fmt: skip
