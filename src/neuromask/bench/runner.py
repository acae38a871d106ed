"""The runner: every registered method on every image of a suite, each cell scored once.

Two parts, each a list of groups (a model and the images it explains):

- ``datasets``: each shipped known-answer model on held-out images of its own dataset
  (drawn after the samples it was trained and tested on), explaining the true class,
  scored against the evidence masks;
- ``photos``: EfficientNet-Lite0 on scikit-image's photos, explaining its top-1 class.

Per (group, method, image) the method explains the image alone, timed (its cost
rows), the map is saved under ``maps/`` and then every metric of the suite's
categories is computed and written as a row. A cell that raises becomes a failure
row; the run goes on. A rerun skips the cells with a successful row and reuses saved
maps, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .._core import forward_logits, frozen
from ..metrics import METRICS
from ..metrics.cost import explanation_cost
from ..registry import Entry
from ..types import LoadedModel
from .rows import Row, RowStore, failed, ok
from .suites import Suite

ROWS_FILE = "rows.jsonl"
MACHINE_FILE = "machine.json"


@dataclass
class Group:
    """A model and the images it explains.

    Attributes:
        name: the group's name in the rows.
        part: ``"datasets"`` or ``"photos"`` (selects the suite's options).
        model: the loaded model.
        inputs: (N, C, H, W) preprocessed images.
        images: N image names.
        target: (N,) the classes explained.
        evidence: (N, H, W) bool, or ``None`` for photos.
        metrics: the metric entries computed on this group.
    """

    name: str
    part: str
    model: LoadedModel
    inputs: torch.Tensor
    images: list[str]
    target: torch.Tensor
    evidence: torch.Tensor | None
    metrics: list[Entry[Callable[..., Any]]]


def _metrics_of(categories: tuple[str, ...]) -> list[Entry[Callable[..., Any]]]:
    return [e for e in METRICS if e.meta["category"] in categories]


def dataset_group(model_name: str, n: int, categories: tuple[str, ...]) -> Group:
    """A shipped model on ``n`` held-out images of the dataset it was trained on."""
    from ..datasets import generate
    from ..models import load_model

    model = load_model(model_name)
    record = model.extra["record"]
    start = int(record["samples"]) + int(record.get("test_samples", 0))
    data = generate(record["dataset"], n, seed=int(record["seed"]), start=start, **record.get("options", {}))
    return Group(
        name=model_name,
        part="datasets",
        model=model,
        inputs=model.normalize(data.images),
        images=[str(start + i) for i in range(n)],
        target=data.labels.long(),
        evidence=data.evidence.bool(),
        metrics=_metrics_of(categories),
    )


def photo_group(model_name: str, photos: tuple[str, ...], categories: tuple[str, ...]) -> Group:
    """A model on scikit-image's photos, explaining its own top-1 class."""
    import skimage.data

    from ..images import preprocess_image
    from ..models import load_model

    model = load_model(model_name)
    arrays = [getattr(skimage.data, name)() for name in photos]
    # stereo_motorcycle returns (left, right, disparity): the left view.
    arrays = [a[0] if isinstance(a, tuple) else a for a in arrays]
    inputs = torch.stack([preprocess_image(model, a)[0] for a in arrays])
    with frozen(model.module):
        target = forward_logits(model.module, inputs).argmax(dim=1)
    return Group(
        name=f"photos-{model_name}",
        part="photos",
        model=model,
        inputs=inputs,
        images=list(photos),
        target=target,
        evidence=None,
        metrics=_metrics_of(categories),
    )


def describe_machine() -> dict[str, Any]:
    """The CPU, cores, memory and library versions the results were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1024**3, 1)
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores_usable": affinity,
        "torch_threads": torch.get_num_threads(),
        "memory_gib": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "load_average_1min_at_start": load,
        "neuromask_commit": _git_commit(),
    }


def _git_commit() -> str | None:
    """The source checkout's commit (with ``+dirty`` for local changes), or None outside git."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", str(here.parent)], cwd=here, capture_output=True, text=True,
            timeout=30, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _score(
    entry: Entry[Callable[..., Any]],
    group: Group,
    method: str,
    params: dict[str, Any],
    index: int,
    attribution: torch.Tensor,
    options: dict[str, Any],
) -> float:
    """One metric on one image: dispatch on what the metric needs."""
    needs = entry.meta["needs"]
    sl = slice(index, index + 1)
    x, t = group.inputs[sl], group.target[sl]
    if "evidence" in needs:
        if group.evidence is None:
            raise ValueError(f"metric '{entry.name}' needs evidence masks, which group '{group.name}' has not")
        value = entry.obj(attribution, group.evidence[sl], **options)
    elif "explain" in needs:
        value = entry.obj(group.model, x, t, attribution, method=method, params=params, **options)
    elif "model" in needs:
        value = entry.obj(group.model.module, x, t, attribution, **options)
    else:
        value = entry.obj(attribution, **options)
    return float(value[0])


def _applies(entry: Entry[Callable[..., Any]], method_kind: str | None) -> bool:
    return entry.meta.get("applies_to", "any") == "any" or entry.meta["applies_to"] == method_kind


def run_group(
    group: Group,
    methods: list[str],
    suite: Suite,
    store: RowStore,
    out: Path,
    tick: Callable[[str], None] = lambda _: None,
) -> int:
    """Run every pending cell of ``group``; return the number of failure rows written.

    ``tick(label)`` is called as each (image, method) starts, with ``""`` as it ends.
    """
    from ..explainers import METHODS, method_info

    failures = 0
    # Image-major: an interrupted run leaves every method scored on the same images.
    for index, image in enumerate(group.images):
        for method in methods:
            kind = METHODS.entry(method).meta.get("kind")
            params = method_info(method).scaled_options(tuple(group.inputs.shape[2:]))
            params.update(suite.method_params.get(group.part, {}).get(method, {}))
            tick(f"{group.name} {image} {method}")
            failures += _run_cell(group, method, kind, params, index, image, suite, store, out)
            tick("")
    return failures


def _run_cell(
    group: Group, method: str, kind: str | None, params: dict[str, Any], index: int, image: str,
    suite: Suite, store: RowStore, out: Path,
) -> int:
    """Explain one image with one method and score its pending metrics; return the failures written."""
    failures = 0
    entries = [e for e in group.metrics if _applies(e, kind)]
    pending = [e for e in entries if not store.done((group.name, method, image, e.name))]
    if not pending:
        return 0
    map_path = out / "maps" / group.name / method / f"{image}.npy"
    cost_pending = [e for e in pending if "cost" in e.meta["needs"]]
    try:
        if map_path.exists() and not cost_pending:
            attribution = torch.from_numpy(np.load(map_path))[None]
        else:
            maps, cost = explanation_cost(
                group.model, group.inputs[index : index + 1], group.target[index : index + 1],
                method=method, params=params,
            )
            attribution = maps
            map_path.parent.mkdir(parents=True, exist_ok=True)
            np.save(map_path, attribution[0].numpy().astype(np.float32))
            store.write(ok(group.name, method, image, e.name, float(e.obj(cost)[0])) for e in cost_pending)
    except Exception as exc:  # noqa: BLE001 - a failing cell is recorded, never fatal
        store.write(failed(group.name, method, image, e.name, exc) for e in pending)
        return len(pending)
    for entry in pending:
        if "cost" in entry.meta["needs"]:
            continue
        options = dict(suite.metric_params.get(group.part, {}).get(entry.name, {}))
        row: Row
        try:
            row = ok(group.name, method, image, entry.name, _score(entry, group, method, params, index, attribution, options))
        except Exception as exc:  # noqa: BLE001 - recorded as a failure row
            row = failed(group.name, method, image, entry.name, exc)
            failures += 1
        store.write([row])
    return failures


def run(suite: Suite, out: str | Path, *, methods: list[str] | None = None, progress: bool = True) -> int:
    """Run ``suite``, writing rows to ``out/rows.jsonl``; return the number of failed cells.

    Args:
        suite: what to run (see :data:`~neuromask.bench.suites.SUITES`).
        out: the output folder; rows already there are kept and their cells skipped.
        methods: restrict to these methods (default: the suite's, else every registered one).
        progress: show a progress bar on stderr.
    """
    from ..explainers import METHODS, method_info

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(methods or suite.methods or METHODS.names())
    for name in names:
        METHODS.entry(name)  # an unknown name fails here, before any work
    store = RowStore(out / ROWS_FILE)
    machine = describe_machine() | {
        "suite": suite.name,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "metric_params": suite.metric_params,
        "method_params": suite.method_params,
        "pixel_options_at_224": {m: method_info(m).pixel_options for m in names},
    }
    (out / MACHINE_FILE).write_text(json.dumps(machine, indent=2) + "\n", encoding="utf-8")

    builders: list[tuple[str, Callable[[], Group]]] = [
        (m, lambda m=m: dataset_group(m, suite.dataset_images, suite.dataset_categories)) for m in suite.datasets
    ]
    if suite.photos:
        builders.append(
            (f"photos-{suite.photo_model}", lambda: photo_group(suite.photo_model, suite.photos, suite.photo_categories))
        )
    total = len(names) * (len(suite.datasets) * suite.dataset_images + len(suite.photos))
    bar = _progress_bar(total, progress)
    failures = 0
    try:
        for group_name, build in builders:
            try:
                group = build()
            except Exception as exc:  # noqa: BLE001 - a group that cannot load is one failure row
                store.write([failed(group_name, "*", "*", "load", exc)])
                failures += 1
                if bar is not None:
                    bar.update(len(names) * (len(suite.photos) if group_name.startswith("photos-") else suite.dataset_images))
                continue

            def tick(label: str) -> None:
                if bar is None:
                    return
                if label:
                    bar.set_description(label)
                else:
                    bar.update(1)

            failures += run_group(group, names, suite, store, out, tick)
    finally:
        if bar is not None:
            bar.close()
    return failures


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="cell", dynamic_ncols=True)


__all__ = ["Group", "dataset_group", "photo_group", "describe_machine", "run_group", "run", "ROWS_FILE", "MACHINE_FILE"]
