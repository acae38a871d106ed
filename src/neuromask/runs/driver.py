"""``explain_dataset()``: every (image, method) of a source explained once, resumably.

The driver lists the work items, skips those the manifest records as done, hands the
rest in batches to an engine (this process, or Ray actors), and for each result that
comes back writes the outputs atomically and only then appends the manifest line. So a
run killed at any moment (SIGKILL included) and started again with the same command
computes exactly what is missing: nothing lost, nothing recorded twice, nothing
half-written. At the end ``results.parquet`` is rewritten from the manifest.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..api import resolve_options
from ..errors import InputError
from ..outputs import write_image_files
from .compute import Batch, Outcome, Task, explain_batch, load_worker_model
from .engine import run_in_process, run_on_ray
from .items import WorkItem, described_options, options_hash
from .manifest import Manifest
from .sources import Sample, decode_image, open_source
from .store import MANIFEST, MapStore, write_table

TARGETS = ("top1", "class")
PER_IMAGE = "per_image"


@dataclass
class RunSummary:
    """What a run did.

    Attributes:
        out: the output folder.
        total: work items of the run (images x methods).
        already_done: items a previous run had finished.
        computed: items finished by this run (ok or failed).
        failures: (image, method, one-line reason) of every item whose latest result failed.
        bugs: (image, method, traceback) of the failures that were unexpected exceptions.
    """

    out: Path
    total: int
    already_done: int
    computed: int
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    bugs: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def explain_dataset(
    source: str | os.PathLike[str],
    model: str,
    methods: list[str],
    out: str | os.PathLike[str],
    *,
    options: dict[str, dict[str, Any]] | None = None,
    target: str = "top1",
    source_kind: str = "auto",
    batch_size: int = 1,
    workers: int = 1,
    address: str | None = None,
    threads: int | None = None,
    per_image: bool = False,
    device: str = "cpu",
    quiet: bool = False,
) -> RunSummary:
    """Explain every image of ``source`` with every method, writing into ``out``; resumes a killed run.

    Args:
        source: a folder (recursive), an ImageFolder layout or WebDataset ``.tar`` shards
            (see :mod:`neuromask.runs.sources`).
        model: a model spec :func:`neuromask.load_model` understands.
        methods: registered method names.
        out: the output folder: ``results.parquet``, ``maps.zarr``, ``manifest.jsonl``.
        options: per method, its options (``{"neuromask": {"steps": 50}}``).
        target: ``"top1"`` (each image's top-1 class) or ``"class"`` (the class its
            source gives: the ImageFolder class folder or the WebDataset ``.cls``).
        source_kind: ``auto``, ``folder``, ``imagefolder`` or ``webdataset``.
        batch_size: images explained together by one call (same method and options).
        workers: 1 runs in this process; more run on a pool of Ray actors.
        address: a Ray cluster to run on (implies Ray even with one worker).
        threads: torch threads per Ray worker (default: the cores shared out).
        per_image: also write ``per_image/<ID>.<method>.npy/.png/.json``.
        device: where the model runs (``cpu``, ``cuda``).
        quiet: no progress bar.

    Returns:
        A :class:`RunSummary`; failures are rows of the table, never exceptions.

    Raises:
        InputError: a bad source, method, option, target mode or worker count.
        ModelLoadError: the model cannot be loaded.
        OSError: the manifest cannot be written (e.g. a full disk); what was recorded stays.
    """
    if target not in TARGETS:
        raise InputError(f"target must be one of {', '.join(TARGETS)}; got '{target}'")
    if batch_size < 1 or workers < 1:
        raise InputError(f"batch_size and workers must be at least 1; got {batch_size} and {workers}")
    if not methods:
        raise InputError("give at least one method")
    options = options or {}
    stray = sorted(set(options) - set(methods))
    if stray:
        raise InputError(f"options given for {', '.join(stray)}, which is not among the methods {', '.join(methods)}")
    # Loaded here even when Ray workers load their own: a wrong spec fails now, in one line.
    loaded = load_worker_model(model, device)
    # Every image is preprocessed to the model's input size, so these are exactly the options
    # explain() runs with (and records): the workers get them whole, and the resume key hashes them.
    resolved = {m: resolve_options(m, options.get(m, {}), size=loaded.input_size, model=loaded) for m in methods}
    samples = open_source(Path(source), source_kind)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = [(WorkItem(s.id, m, model, options_hash(resolved[m], target)), s) for m in methods for s in samples]
    described = {m: described_options(resolved[m], target) for m in methods}
    with _locked(out):
        manifest = Manifest(out / MANIFEST)
        already = sum(manifest.done(item.key) for item, _ in items)
        summary = RunSummary(out, len(items), already, 0)
        batches = _batches(items, manifest, resolved, target, batch_size)
        if workers == 1 and address is None:
            results = run_in_process(lambda: loaded, explain_batch, batches)
        else:
            setup = functools.partial(load_worker_model, model, device)
            results = run_on_ray(setup, explain_batch, batches, workers=workers, address=address, threads=threads)
        # The bar starts from what is already done, so its rate and ETA are this run's.
        bar = tqdm(
            total=len(items),
            initial=summary.already_done,
            unit="item",
            desc="explain-dataset",
            file=sys.stderr,
            disable=quiet,
            smoothing=0.1,
        )
        try:
            maps = MapStore(out)
            for batch, result in results:
                tasks = {task.item.key: task for task in batch.tasks}
                for outcome in _outcomes(batch, result):
                    if manifest.done(outcome.item.key):
                        continue  # computed again only to keep its batch whole
                    task = tasks[outcome.item.key]
                    options_text = described[batch.method]
                    if outcome.status == "ok":
                        try:
                            _write_outputs(out, maps, outcome, task, per_image)
                        except OSError as exc:
                            outcome = Outcome(outcome.item, "failed", error=f"could not write its outputs: {exc}")
                    manifest.append(_record(outcome, options_text, task.class_name))
                    summary.computed += 1
                    bar.update(1)
        finally:
            bar.close()
            manifest.close()
            records = [manifest.records[item.key] for item, _ in items if item.key in manifest.records]
            write_table(out, records)
    summary.failures = [(r["image"], r["method"], r["error"]) for r in records if r["status"] != "ok"]
    summary.bugs = [(r["image"], r["method"], r["traceback"]) for r in records if r.get("traceback")]
    return summary


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``DIR/.lock`` during the run: two drivers appending to one manifest could record an item twice.

    An advisory ``flock``: the kernel releases it when the process dies, so a killed run never leaves it held.
    """
    import fcntl

    with open(out / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"another explain-dataset run is writing to '{out}'; wait for it or use another --out"
            ) from None
        yield


def _batches(
    items: list[tuple[WorkItem, Sample]],
    manifest: Manifest,
    resolved: dict[str, dict[str, Any]],
    target: str,
    batch_size: int,
) -> Iterator[Batch]:
    """Batches of one method each, the images' bytes read only when the engine asks for the batch.

    A batch is always the same images (the i-th ``batch_size`` images of its method), and
    is computed whole when any of its items is missing: a batch's maps can differ from the
    same images' maps in another batch by float rounding, so a resumed run gives maps
    bit-identical to an uninterrupted run's.
    """
    by_method: dict[str, list[tuple[WorkItem, Sample]]] = {}
    for item, sample in items:
        by_method.setdefault(item.method, []).append((item, sample))
    for method, pairs in by_method.items():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            if all(manifest.done(item.key) for item, _ in chunk):
                continue
            yield Batch(method, dict(resolved[method]), target, [_task(item, sample) for item, sample in chunk])


def _task(item: WorkItem, sample: Sample) -> Task:
    try:
        return Task(item, sample.read(), sample.class_name)
    except OSError as exc:
        return Task(item, None, sample.class_name, read_error=f"could not read the image: {exc}")


def _outcomes(batch: Batch, result: list[Outcome] | Exception) -> list[Outcome]:
    if isinstance(result, Exception):
        reason = " ".join(f"{type(result).__name__}: {result}".split())[:500]
        return [Outcome(task.item, "failed", error=f"its batch was lost: {reason}") for task in batch.tasks]
    return result


def _record(outcome: Outcome, options: str, class_name: str | None) -> dict[str, Any]:
    item = outcome.item
    ok = outcome.status == "ok"
    return {
        "key": item.key,
        "image": item.image,
        "method": item.method,
        "model": item.model,
        "options_hash": item.options_hash,
        "options": options,
        "status": outcome.status,
        "target": outcome.target,
        "label": outcome.label,
        "class_name": class_name,
        "probability": outcome.probability,
        "masked_probability": outcome.masked_probability,
        "seconds": outcome.seconds,
        "error": outcome.error,
        "map": item.map_name if ok else None,
        "traceback": outcome.traceback,
    }


def _write_outputs(out: Path, maps: MapStore, outcome: Outcome, task: Task, per_image: bool) -> None:
    """The map into the Zarr store, and with ``--per-image`` its .npy/.png/.json, each atomically."""
    item = outcome.item
    if outcome.attribution is None:
        raise RuntimeError(f"an ok outcome of {item.image} [{item.method}] has no map")
    maps.write(
        item.map_name,
        outcome.attribution,
        {
            "image": item.image,
            "method": item.method,
            "model": item.model,
            "options_hash": item.options_hash,
        },
    )
    if per_image:
        _write_per_image(out / PER_IMAGE, outcome, task)


def _write_per_image(folder: Path, outcome: Outcome, task: Task) -> None:
    """``<ID>.<method>.npy/.png/.json`` under the image's own path: the files and the record
    ``neuromask explain`` writes (:func:`neuromask.outputs.write_image_files`)."""
    item = outcome.item
    picture = np.asarray(decode_image(task.data or b"", item.image).convert("RGB"))
    if outcome.attribution is None or outcome.record is None:
        raise RuntimeError(f"an ok outcome of {item.image} [{item.method}] lacks its map or record")
    write_image_files(folder, f"{item.image}.{item.method}", picture, outcome.attribution, outcome.record)
