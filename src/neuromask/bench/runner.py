"""The runner: every registered method on every image of a suite, each cell scored once.

Three parts, each a list of groups (a model and the images it explains):

- ``datasets``: each shipped known-answer model on held-out images of its own dataset
  (drawn after the samples it was trained and tested on), explaining the true class,
  scored against the evidence masks;
- ``composites``: each real model on the composites of the suite's split
  (:func:`neuromask.datasets.composite_scenes`): one group per background with one
  object, explaining its class; one group of two-object scenes, each scene explained
  twice (once per object's class, the other object as ``other_evidence``);
- ``photos``: EfficientNet-Lite0 on scikit-image's photos, explaining its top-1 class.

The groups are run image by image in turn (image 0 of every group, then image 1, ...),
so that a run cut short has every group on its first images.

Per (group, method, image) the method explains the image alone, timed (its cost
rows), the map is saved under ``maps/`` and then every metric of the suite's
categories is computed and written as a row. A cell that raises becomes a failure
row; the run goes on. A rerun skips the cells with a successful row and reuses saved
maps, so an interrupted run resumes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._core import forward_logits, frozen, model_device, save_npy, write_text
from ..api import method_info, resolve_options
from ..api import methods as all_methods
from ..errors import InputError
from ..metrics import MetricInfo, ScoringData, metric_info, metrics, score
from ..metrics.cost import explanation_cost
from ..types import LoadedModel
from .rows import Row, RowStore, failed, ok
from .suites import Suite

ROWS_FILE = "rows.jsonl"
MACHINE_FILE = "machine.json"
# Beside each folder of maps: the options they were made with (cell_options).
OPTIONS_FILE = "options.json"


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
        other_evidence: (N, H, W) bool, the other object of a two-object scene, or ``None``.
    """

    name: str
    part: str
    model: LoadedModel
    inputs: torch.Tensor
    images: list[str]
    target: torch.Tensor
    evidence: torch.Tensor | None
    metrics: list[MetricInfo]
    other_evidence: torch.Tensor | None = None


def _metrics_of(categories: tuple[str, ...], *, pairs: bool = False) -> list[MetricInfo]:
    """The metrics of ``categories``; those that need a second object only for two-object scenes."""
    infos = [metric_info(name) for name in metrics()]
    return [m for m in infos if m.category in categories and (pairs or "other_evidence" not in m.needs)]


def dataset_group(model_name: str, n: int, categories: tuple[str, ...], device: str = "cpu") -> Group:
    """A shipped model (on ``device``) on ``n`` held-out images of the dataset it was trained on."""
    from ..datasets import generate
    from ..models import load_model

    model = load_model(model_name, device=device)
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


def photo_group(model_name: str, photos: tuple[str, ...], categories: tuple[str, ...], device: str = "cpu") -> Group:
    """A model (on ``device``) on scikit-image's photos, explaining its own top-1 class."""
    import skimage.data

    from ..images import preprocess_image
    from ..models import load_model

    model = load_model(model_name, device=device)
    arrays = [getattr(skimage.data, name)() for name in photos]
    # stereo_motorcycle returns (left, right, disparity): the left view.
    arrays = [a[0] if isinstance(a, tuple) else a for a in arrays]
    inputs = torch.stack([preprocess_image(model, a)[0] for a in arrays])
    with frozen(model.module):
        target = forward_logits(model.module, inputs.to(model_device(model.module))).argmax(dim=1).cpu()
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


def composite_groups(model_name: str, suite: Suite, device: str = "cpu") -> list[Group]:
    """The composites of ``suite.composite_split`` for a real model (on ``device``): one group
    per background (one object each) and one of two-object scenes (each explained twice)."""
    from ..datasets import composite_scenes
    from ..models import load_model

    model = load_model(model_name, device=device)
    categories = suite.categories["composites"]
    split = suite.composite_split
    groups = []
    for background in ("flat", "texture"):
        data = composite_scenes(model, suite.composite_images, split=split, objects=1, background=background)
        groups.append(
            Group(
                name=f"composites-{model_name}-{split}-{background}",
                part="composites",
                model=model,
                inputs=model.normalize(data.images),
                images=data.names,
                target=data.labels[:, 0],
                evidence=data.evidence[:, 0],
                metrics=_metrics_of(categories),
            )
        )
    if suite.composite_pairs:
        data = composite_scenes(model, suite.composite_pairs, split=split, objects=2, background="texture")
        n = len(data)
        # Scene j gives images 2j (explain object 0 against object 1) and 2j + 1 (the reverse).
        own, other = [0, 1] * n, [1, 0] * n
        scene = [j for j in range(n) for _ in range(2)]
        groups.append(
            Group(
                name=f"composites-{model_name}-{split}-pairs",
                part="composites",
                model=model,
                inputs=model.normalize(data.images[scene]),
                images=[f"{data.names[j]}-{data.objects[j][k]}" for j, k in zip(scene, own)],
                target=data.labels[scene, own],
                evidence=data.evidence[scene, own],
                metrics=_metrics_of(categories, pairs=True),
                other_evidence=data.evidence[scene, other],
            )
        )
    return groups


def describe_machine(device: str = "cpu") -> dict[str, Any]:
    """The CPU, cores, memory, the device the models ran on and library versions."""
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
        "device": device,
        "gpu": torch.cuda.get_device_name(torch.device(device)) if torch.device(device).type == "cuda" else None,
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
            ["git", "status", "--porcelain", "--", str(here.parent)],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def cell_options(method: str, group: Group, suite: Suite) -> dict[str, Any]:
    """Every option ``method`` runs with on ``group``: the suite's overrides for the group's
    part, resolved by :func:`neuromask.resolve_options` for the group's image size and model."""
    given = suite.method_params.get(group.part, {}).get(method, {})
    height, width = group.inputs.shape[2:]
    return resolve_options(method, given, size=(int(height), int(width)), model=group.model)


def cell_config(
    suite: Suite, method: str, options: dict[str, Any], metric: str = "", metric_options: dict[str, Any] | None = None
) -> str:
    """A short hash of what a cell's number depends on: the suite, the method with every
    option it runs with (:func:`cell_options`), the metric and its options (``metric=""``:
    the map alone)."""
    payload = {
        "suite": suite.name,
        "method": method,
        "options": options,
        "metric": metric,
        "metric_options": metric_options or {},
    }
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def run_group(
    group: Group,
    methods: list[str],
    suite: Suite,
    store: RowStore,
    out: Path,
    tick: Callable[[str], None] = lambda _: None,
    images: range | None = None,
) -> int:
    """Run every pending cell of ``group`` (of the images at ``images``, default all);
    return the number of failure rows written.

    ``tick(label)`` is called as each (image, method) starts, with ``""`` as it ends.
    """
    failures = 0
    # Image-major: an interrupted run leaves every method scored on the same images.
    for index in images if images is not None else range(len(group.images)):
        for method in methods:
            kind = method_info(method).kind
            params = cell_options(method, group, suite)
            tick(f"{group.name} {group.images[index]} {method}")
            failures += _run_cell(group, method, kind, params, index, suite, store, out)
            tick("")
    return failures


def _run_cell(
    group: Group,
    method: str,
    kind: str,
    params: dict[str, Any],
    index: int,
    suite: Suite,
    store: RowStore,
    out: Path,
) -> int:
    """Explain one image with one method and score its pending metrics; return the failures written."""
    image = group.images[index]
    failures = 0
    sanity_done = suite.sanity_images is not None and index >= suite.sanity_images
    entries = [e for e in group.metrics if e.applies(kind) and not (sanity_done and e.category == "sanity")]
    options = {e.name: dict(suite.metric_params.get(group.part, {}).get(e.name, {})) for e in entries}
    configs = {e.name: cell_config(suite, method, params, e.name, options[e.name]) for e in entries}
    pending = [e for e in entries if not store.done((group.name, method, image, e.name, configs[e.name]))]
    if not pending:
        return 0
    map_dir = out / "maps" / group.name / method / cell_config(suite, method, params)
    map_path = map_dir / f"{image}.npy"
    cost_pending = [e for e in pending if "cost" in e.needs]
    try:
        if map_path.exists() and not cost_pending:
            attribution = torch.from_numpy(np.load(map_path))[None]
        else:
            maps, cost = explanation_cost(
                group.model,
                group.inputs[index : index + 1],
                group.target[index : index + 1],
                method=method,
                params=params,
            )
            attribution = maps
            map_dir.mkdir(parents=True, exist_ok=True)
            if not (map_dir / OPTIONS_FILE).exists():  # the options these maps were made with
                write_text(map_dir / OPTIONS_FILE, json.dumps(params, indent=1, sort_keys=True, default=repr) + "\n")
            save_npy(map_path, attribution[0].numpy().astype(np.float32))
            measured = ScoringData(cost=cost)
            store.write(
                ok(group.name, method, image, e.name, float(score(e.name, measured)[0]), configs[e.name])
                for e in cost_pending
            )
    except Exception as exc:  # noqa: BLE001 - a failing cell is recorded, never fatal
        store.write(failed(group.name, method, image, e.name, exc, configs[e.name]) for e in pending)
        return len(pending)
    sl = slice(index, index + 1)
    data = ScoringData(
        attribution=attribution,
        model=group.model,
        inputs=group.inputs[sl],
        target=group.target[sl],
        evidence=None if group.evidence is None else group.evidence[sl],
        other_evidence=None if group.other_evidence is None else group.other_evidence[sl],
        method=method,
        params=params,
    )
    for entry in pending:
        if "cost" in entry.needs:
            continue
        row: Row
        try:
            value = float(score(entry.name, data, **options[entry.name])[0])
            row = ok(group.name, method, image, entry.name, value, configs[entry.name])
        except Exception as exc:  # noqa: BLE001 - recorded as a failure row
            row = failed(group.name, method, image, entry.name, exc, configs[entry.name])
            failures += 1
        store.write([row])
    return failures


def _record_run(path: Path, run: dict[str, Any]) -> None:
    """Append ``run`` to ``machine.json``'s list of runs (a resumed run adds one; none is overwritten)."""
    runs: list[dict[str, Any]] = []
    if path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        runs = previous["runs"] if isinstance(previous, dict) and "runs" in previous else [previous]
    runs.append(run)
    write_text(path, json.dumps({"runs": runs}, indent=2, default=repr) + "\n")


def group_names(suite: Suite) -> list[str]:
    """The names of ``suite``'s groups, as the rows give them, without loading anything."""
    names = list(suite.datasets)
    kinds = ("flat", "texture") + (("pairs",) if suite.composite_pairs else ())
    names += [f"composites-{m}-{suite.composite_split}-{kind}" for m in suite.composite_models for kind in kinds]
    if suite.photos:
        names.append(f"photos-{suite.photo_model}")
    return names


def _groups(suite: Suite, device: str) -> list[tuple[str, Callable[[], list[Group]]]]:
    """(name, builder) of every group family of ``suite``; a builder that raises is one failure row."""
    builders: list[tuple[str, Callable[[], list[Group]]]] = [
        (
            m,
            functools.partial(
                lambda m: [dataset_group(m, suite.dataset_images, suite.categories["datasets"], device)], m
            ),
        )
        for m in suite.datasets
    ]
    builders += [
        (f"composites-{m}", functools.partial(composite_groups, m, suite, device)) for m in suite.composite_models
    ]
    if suite.photos:
        builders.append(
            (
                f"photos-{suite.photo_model}",
                lambda: [photo_group(suite.photo_model, suite.photos, suite.categories["photos"], device)],
            )
        )
    return builders


def run(
    suite: Suite,
    out: str | Path,
    *,
    methods: list[str] | None = None,
    parts: tuple[str, ...] | None = None,
    categories: tuple[str, ...] | None = None,
    progress: bool = True,
    device: str = "cpu",
    groups: tuple[str, ...] | None = None,
) -> int:
    """Run ``suite``, writing rows to ``out/rows.jsonl``; return the number of failed cells.

    Args:
        suite: what to run (see :data:`~neuromask.bench.suites.SUITES`).
        out: the output folder; rows already there are kept and their cells skipped.
        methods: restrict to these methods (default: the suite's, else every registered one).
        parts: restrict to these parts (``datasets``, ``composites``, ``photos``).
        categories: restrict to these metric categories. A partial run: a later run
            without the restriction adds the other metrics, reusing the saved maps.
        progress: show a progress bar on stderr.
        groups: restrict to the groups of these names (as in the rows: a dataset model's
            name, ``composites-<model>-<split>-<flat|texture|pairs>``, ``photos-<model>``).
        device: where the models run (``cpu``, ``cuda``, ``cuda:N``). The quality figures
            do not depend on it (up to rounding); the ``seconds`` rows do, and
            ``machine.json`` records it with each run.
    """
    try:
        torch.zeros(1, device=device)
    except (RuntimeError, AssertionError) as exc:  # torch raises both for a bad or absent device
        raise InputError(
            f"cannot run on device {device!r} ({str(exc).splitlines()[0]}); use cpu or a CUDA device this machine has"
        ) from exc
    if groups is not None:
        unknown = set(groups) - set(group_names(suite))
        if unknown:
            raise InputError(
                f"no group named {', '.join(sorted(unknown))} in suite {suite.name!r} "
                f"(its groups: {', '.join(group_names(suite))})"
            )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(methods or suite.methods or sorted(all_methods()))
    for name in names:
        method_info(name)  # an unknown name fails here, before any work
    store = RowStore(out / ROWS_FILE)
    _record_run(
        out / MACHINE_FILE,
        describe_machine(device)
        | {
            "suite": suite.name,
            "methods": names,
            "parts": list(parts) if parts is not None else "all",
            "categories": list(categories) if categories is not None else "all",
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "metric_params": suite.metric_params,
            "method_params": suite.method_params,
            "pixel_options_at_224": {m: method_info(m).pixel_options for m in names},
        },
    )

    built: list[Group] = []
    failures = 0
    for family, build in _groups(suite, device):
        part = "datasets" if family in suite.datasets else family.split("-", 1)[0]
        if parts is not None and part not in parts:
            continue
        # A family's groups are named after it (``composites-<model>`` gives
        # ``composites-<model>-<split>-<kind>``): load only the families asked for.
        if groups is not None and not any(g == family or g.startswith(family + "-") for g in groups):
            continue
        try:
            built += build()
        except Exception as exc:  # noqa: BLE001 - a group that cannot load is one failure row
            store.write([failed(family, "*", "*", "load", exc)])
            failures += 1
    if groups is not None:
        built = [g for g in built if g.name in groups]
    if categories is not None:
        for group in built:
            group.metrics = [e for e in group.metrics if e.category in categories]
        built = [g for g in built if g.metrics]
    bar = _progress_bar(len(names) * sum(len(g.images) for g in built), progress)

    def tick(label: str) -> None:
        if bar is None:
            return
        if label:
            bar.set_description(label)
        else:
            bar.update(1)

    try:
        # Round-robin over the groups, one image at a time: a run cut short covers every group.
        for index in range(max((len(g.images) for g in built), default=0)):
            for group in built:
                if index < len(group.images):
                    failures += run_group(group, names, suite, store, out, tick, images=range(index, index + 1))
    finally:
        if bar is not None:
            bar.close()
    return failures


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="cell", dynamic_ncols=True)


__all__ = [
    "Group",
    "group_names",
    "dataset_group",
    "photo_group",
    "composite_groups",
    "cell_config",
    "cell_options",
    "describe_machine",
    "run_group",
    "run",
    "ROWS_FILE",
    "MACHINE_FILE",
]
