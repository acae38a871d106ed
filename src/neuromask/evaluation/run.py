"""``evaluate()``: explain a dataset once, score every map on every metric once, report.

Two stages, each exactly once and resumable after a kill (SIGKILL included):

1. **Explain.** :func:`neuromask.runs.explain_dataset` computes the maps into
   ``DIR/maps.zarr`` and ``DIR/results.parquet`` (nothing is explained again on a rerun).
2. **Score.** A score item is (image, method, model, the method's options hash, metric,
   the metric's options hash, and for ground-truth metrics a digest of the image's mask or
   boxes): a changed option, metric option or mask is a new item. The driver lists the
   items, skips those ``DIR/scores.jsonl`` records as done, and hands the rest to the same
   engine as the maps (this process, or Ray actors), in fixed batches of one method's
   images (a batch is always the same images and is computed whole when any of its items
   is missing, so a resumed run gives the scores of an uninterrupted one). Each result is
   appended to ``scores.jsonl`` (whole lines, fsync'ed) by the driver alone, and
   ``DIR/scores.parquet`` is rewritten from it at the end.

So a rerun with a new metric scores the stored maps without explaining anything again, and
a metric that needs no model (energy, AUROC, IoU, pointing) never loads the model.

Then ``DIR/summary.csv`` and the report (:mod:`neuromask.evaluation.report`) are written from the rows.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from ..errors import InputError
from ..types import LoadedModel
from .metrics import MetricSpec, select
from .score import Score, ScoreBatch, ScoreTask, ScoringState, score_batch
from .truth import GroundTruth, MaskFolder, TruthError, open_truth

SCORES = "scores.parquet"
SCORE_MANIFEST = "scores.jsonl"
RECORD = "evaluation.json"
# Images per scoring batch: the model-based metrics of a batch share forward passes.
SCORE_BATCH = 8
# The image and method of a failure that belongs to no image of SOURCE.
NO_METHOD = "*"

SCORE_SCHEMA = pa.schema(
    [
        pa.field("image", pa.string(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64()),  # NaN: undefined for this image (e.g. a map with no positive value)
        pa.field("status", pa.string(), nullable=False),  # "ok" or "failed"
        pa.field("error", pa.string()),  # the one-line reason of a failure
        pa.field("model", pa.string(), nullable=False),
        pa.field("options_hash", pa.string(), nullable=False),  # the explanation's (results.parquet)
        pa.field("metric_options", pa.string(), nullable=False),  # the metric's complete options, JSON
        pa.field("target", pa.int64()),  # the class the map explains
        pa.field("seconds", pa.float64()),  # the metric's time on this image (its share of a batched call)
    ]
)


@dataclass
class Evaluation:
    """What an evaluation did and found.

    Attributes:
        out: the output folder.
        explained: the explanation stage's :class:`~neuromask.runs.RunSummary`.
        total, already_done, computed: score items of the request, done before, done now.
        failures: (image, method, metric, one-line reason) of every failed score row.
        bugs: (image, method, metric, traceback) of the failures that were unexpected exceptions.
        summary: the rows of ``summary.csv`` (method, metric, n, mean, ci95_low, ci95_high, rank).
        recommendation: the report's paragraph on which method to use and how sure that is.
        files: the summary and report files written.
    """

    out: Path
    explained: Any
    total: int
    already_done: int
    computed: int
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)
    bugs: list[tuple[str, str, str, str]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    recommendation: str = ""
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every explanation and every score is ``ok``."""
        return not self.failures and self.explained.ok


def evaluate(
    source: str | os.PathLike[str],
    model: str | LoadedModel,
    methods: list[str],
    out: str | os.PathLike[str],
    *,
    masks: str | os.PathLike[str] | None = None,
    boxes: str | os.PathLike[str] | None = None,
    metrics: list[str] | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    metric_options: dict[str, dict[str, Any]] | None = None,
    target: str = "top1",
    batch_size: int = 1,
    workers: int = 1,
    address: str | None = None,
    device: str = "cpu",
    quiet: bool = False,
    other_masks: str | os.PathLike[str] | None = None,
    clusters: dict[str, str] | None = None,
    source_kind: str = "auto",
    threads: int | None = None,
    report: bool = True,
) -> Evaluation:
    """Score explanation methods on a model and a set of images; resumes a killed run.

    ::

        result = neuromask.evaluate("cells/", "cells-cnn.pt", ["saliency", "gradcam", "neuromask"],
                                    "out/eval", masks="cells_masks/")
        result.recommendation      # which method to use on this model and data, and how sure
        result.summary             # per (method, metric): n, mean, 95 % interval, rank

    Args:
        source: a folder of images (recursive), an ImageFolder root or WebDataset shards.
        model: a model spec (``efficientnet_lite0``, a file) or a loaded model.
        methods: registered method names (``neuromask.methods()``).
        out: the output folder; a rerun adds only what is missing.
        masks: a folder of PNG masks mirroring ``source`` (``<ID without extension>.png``,
            the image's size, non-zero = object).
        boxes: a COCO JSON or a CSV (``image,x0,y0,x1,y1``) file of object boxes.
        metrics: metric names (:func:`neuromask.evaluation.metric_names`); default every
            one of ``energy, auroc, eq_iou, pointing, insertion, deletion, randomisation``
            that the ground truth allows.
        options: per method, its options (``{"neuromask": {"steps": 100}}``).
        metric_options: per metric, its options (``{"deletion": {"baseline": "road"}}``).
        target: ``"top1"`` or ``"class"`` (the ImageFolder folder's / WebDataset ``.cls`` class).
        batch_size: images explained together.
        workers: 1 runs in this process; more run on a pool of Ray actors (both stages).
        address: a Ray cluster to run on.
        device: where a model given by its spec runs.
        quiet: no progress bars.
        other_masks: for two-object scenes, the masks of the other object (``mass_margin``).
        clusters: image ID -> cluster name: images of one cluster (e.g. the two explanations
            of one scene) are resampled together by the bootstrap.
        source_kind: ``auto``, ``folder``, ``imagefolder`` or ``webdataset``.
        threads: torch threads per Ray worker.
        report: write ``summary.csv``, ``report.md`` and ``report.html``.

    Returns:
        An :class:`Evaluation`; failures are rows (``status`` ``failed``), never exceptions.

    Raises:
        InputError: a bad request (unknown method, metric or option; ground truth asked for
            but not given; an unreadable boxes file), before any work.
        ModelLoadError: the model cannot be loaded.
    """
    from ..runs import explain_dataset, kind_for_target, locked, open_source, ray_session

    truth = open_truth(masks, boxes)
    other = MaskFolder(other_masks) if other_masks is not None else None
    specs = select(metrics, metric_options, truth=truth is not None, other_truth=other is not None)
    options = options or {}
    out = Path(out)
    on_ray = workers > 1 or address is not None
    with ray_session(workers, address, threads) if on_ray else contextlib.nullcontext():
        explained = explain_dataset(
            source,
            model,
            methods,
            out,
            options=options,
            target=target,
            source_kind=source_kind,
            batch_size=batch_size,
            workers=workers,
            address=address,
            threads=threads,
            device=device,
            quiet=quiet,
        )
        samples = open_source(Path(source), kind_for_target(source, source_kind, target))
        scorer = _Scorer(out, samples, model, explained, target, specs, truth, other, batch_size)
        busy = f"another evaluate run is scoring into '{out}'; wait for it or use another --out"
        with locked(out / ".scores.lock", busy):
            result = scorer.run(workers=workers, address=address, threads=threads, device=device, quiet=quiet)
    result.explained = explained
    _write_record(out, source, explained.model, methods, specs, truth, other, clusters, target)
    if report:
        from .report import write_report

        result.summary, result.recommendation, result.files = write_report(out)
    return result


def _write_record(
    out: Path,
    source: Any,
    model: str,
    methods: list[str],
    specs: list[MetricSpec],
    truth: GroundTruth | None,
    other: MaskFolder | None,
    clusters: dict[str, str] | None,
    target: str,
) -> None:
    """``DIR/evaluation.json``: what the report needs besides the rows (the request, the clusters)."""
    from .._core import write_text

    record = {
        "source": str(source),
        "model": model,
        "methods": list(methods),
        "metrics": [s.name for s in specs],
        "metric_options": {s.name: s.options for s in specs},
        "truth": None
        if truth is None
        else {"kind": truth.kind, "path": str(getattr(truth, "root", None) or truth.path)},
        "other_masks": None if other is None else str(other.root),
        "target": target,
        "clusters": clusters,
    }
    write_text(out / RECORD, json.dumps(record, indent=1, default=str) + "\n")


class _Scorer:
    """The scoring stage of one request: its items, its batches, and the rows it writes."""

    def __init__(
        self,
        out: Path,
        samples: list[Any],
        model: str | LoadedModel,
        explained: Any,
        target: str,
        specs: list[MetricSpec],
        truth: GroundTruth | None,
        other: MaskFolder | None,
        batch_size: int,
    ) -> None:
        from ..api import method_info
        from ..runs import RunResults, options_hash

        self.out = out
        self.samples = samples
        self.model = model
        self.model_key = explained.model
        # The methods' options as the explanation stage resolved them for the model: the
        # randomisation check explains again with exactly these, and the hashes match its rows.
        self.options = explained.options
        self.methods = list(self.options)
        self.specs = specs
        self.truth = truth
        self.other = other
        self.batch_size = batch_size
        self.hashes = {m: options_hash(o, target) for m, o in self.options.items()}
        self.kind = {m: method_info(m).kind for m in self.methods}
        rows = RunResults(out).table.to_pylist()
        self.explained = {
            (r["image"], r["method"]): r for r in rows if r["options_hash"] == self.hashes.get(r["method"])
        }
        self.keys: dict[tuple[str, str, str], str] = {}
        for method in self.methods:
            for spec in self.applicable(method):
                for i in spec.chosen(len(samples)):
                    self.keys[(samples[i].id, method, spec.name)] = self._key(samples[i].id, method, spec)

    def applicable(self, method: str) -> list[MetricSpec]:
        return [s for s in self.specs if s.applies(self.kind[method])]

    def _key(self, image: str, method: str, spec: MetricSpec) -> str:
        parts = [image, method, self.model_key, self.hashes[method], spec.name, spec.hash]
        if spec.needs_truth and self.truth is not None:
            parts.append(self.truth.digest(image))
        if spec.needs_other_truth and self.other is not None:
            parts.append(self.other.digest(image))
        return "\x1f".join(parts)

    def run(self, *, workers: int, address: str | None, threads: int | None, device: str, quiet: bool) -> Evaluation:
        from ..runs import Manifest, run_in_process, run_on_ray

        manifest = Manifest(self.out / SCORE_MANIFEST)
        extra = self._extra_truth_images(manifest)
        already = sum(manifest.done(key) for key in self.keys.values())
        result = Evaluation(self.out, None, len(self.keys), already, 0)
        batches = self._batches(manifest)
        setup = functools.partial(ScoringState, self.model, device)
        if workers == 1 and address is None:
            engine = run_in_process(setup, score_batch, batches)
        else:
            engine = run_on_ray(setup, score_batch, batches, workers=workers, address=address, threads=threads)
        bar = tqdm(
            total=len(self.keys),
            initial=already,
            unit="score",
            desc="evaluate",
            file=sys.stderr,
            disable=quiet,
            smoothing=0.1,
        )
        try:
            for batch, outcome in engine:
                for score in _scores(batch, outcome):
                    key = self.keys[(score.image, batch.method, score.metric)]
                    if manifest.done(key):
                        continue  # scored again only to keep its batch whole
                    manifest.append(self._record(key, batch.method, score))
                    result.computed += 1
                    bar.update(1)
        finally:
            bar.close()
            manifest.close()
            records = [manifest.records[k] for k in extra] + [
                manifest.records[k] for k in self.keys.values() if k in manifest.records
            ]
            _write_scores(self.out, records)
        result.failures = [(r["image"], r["method"], r["metric"], r["error"]) for r in records if r["status"] != "ok"]
        result.bugs = [(r["image"], r["method"], r["metric"], r["traceback"]) for r in records if r.get("traceback")]
        return result

    def _extra_truth_images(self, manifest: Any) -> list[str]:
        """A failed row for each image the ground truth names that SOURCE does not hold."""
        if self.truth is None:
            return []
        keys = []
        for image in self.truth.extra_images(s.id for s in self.samples):
            key = "\x1f".join([image, NO_METHOD, self.model_key, "ground_truth"])
            reason = f"named in {self.truth.describe()} but not in SOURCE; check its file names"
            record = self._record(key, NO_METHOD, Score(image, "ground_truth", "failed", error=reason))
            if manifest.records.get(key, {}).get("error") != reason:
                manifest.append(record)
            keys.append(key)
        return keys

    def _record(self, key: str, method: str, score: Score) -> dict[str, Any]:
        from ..runs import canonical_json

        spec = next((s for s in self.specs if s.name == score.metric), None)
        row = self.explained.get((score.image, method), {})
        return {
            "key": key,
            "image": score.image,
            "method": method,
            "metric": score.metric,
            "value": None if score.status != "ok" else score.value,
            "status": score.status,
            "error": score.error,
            "model": self.model_key,
            "options_hash": self.hashes.get(method, NO_METHOD),
            "metric_options": canonical_json(spec.options if spec else {}),
            "target": row.get("target"),
            "seconds": score.seconds,
            "traceback": score.traceback,
        }

    def _batches(self, manifest: Any) -> Iterator[ScoreBatch]:
        """Fixed batches of one method's images; a batch is sent when any of its scores is missing."""
        for method in self.methods:
            specs = self.applicable(method)
            for start in range(0, len(self.samples), SCORE_BATCH):
                chunk = self.samples[start : start + SCORE_BATCH]
                pending = [
                    spec
                    for spec in specs
                    if any(
                        not manifest.done(key)
                        for key in (self.keys.get((s.id, method, spec.name)) for s in chunk)
                        if key is not None
                    )
                ]
                if pending:
                    tasks = [self._task(sample, method, pending) for sample in chunk]
                    yield ScoreBatch(method, dict(self.options[method]), self.batch_size, pending, tasks)

    def _task(self, sample: Any, method: str, specs: list[MetricSpec]) -> ScoreTask:
        """One image's map, target and, as the metrics need them, ground truth and bytes."""
        from ..runs import MAPS, read_map

        task = ScoreTask(sample.id)
        task.skip = {spec.name for spec in specs if (sample.id, method, spec.name) not in self.keys}
        specs = [spec for spec in specs if spec.name not in task.skip]
        row = self.explained.get((sample.id, method))

        def fail_all(reason: str) -> ScoreTask:
            task.errors = {spec.name: reason for spec in specs}
            return task

        if row is None:
            return fail_all("no map: the explanation has no row in results.parquet")
        if row["status"] != "ok":
            return fail_all(f"no map: the explanation failed: {row['error']}")
        try:
            task.map = read_map(self.out / MAPS, row["map"])
        except Exception as exc:  # noqa: BLE001 - a map that cannot be read fails its scores
            return fail_all(f"the stored map cannot be read ({type(exc).__name__}: {exc})")
        task.target, task.seconds = row["target"], row["seconds"]
        shape = tuple(task.map.shape)
        if self.truth is not None and any(spec.needs_truth for spec in specs):
            try:
                task.truth = self.truth.mask(sample.id, shape)
            except TruthError as exc:
                task.errors.update({s.name: str(exc) for s in specs if s.needs_truth})
        if self.other is not None and any(spec.needs_other_truth for spec in specs):
            try:
                task.other_truth = self.other.mask(sample.id, shape)
            except TruthError as exc:
                task.errors.update({s.name: f"the other object: {exc}" for s in specs if s.needs_other_truth})
        if any(spec.needs_model for spec in specs):
            try:
                task.data = sample.read()
            except OSError as exc:
                task.errors.update({s.name: f"could not read the image: {exc}" for s in specs if s.needs_model})
        return task


def _scores(batch: ScoreBatch, outcome: list[Score] | Exception) -> list[Score]:
    if isinstance(outcome, Exception):
        reason = " ".join(f"{type(outcome).__name__}: {outcome}".split())[:500]
        return [
            Score(task.image, spec.name, "failed", error=f"its batch was lost: {reason}")
            for task in batch.tasks
            for spec in batch.metrics
        ]
    return outcome


def _write_scores(out: Path, records: list[dict[str, Any]]) -> Path:
    from ..runs import write_parquet

    return write_parquet(out / SCORES, SCORE_SCHEMA, records)


def read_scores(out: str | os.PathLike[str]) -> pa.Table:
    """``DIR/scores.parquet`` of an evaluation, as a ``pyarrow.Table``.

    Raises:
        InputError: the folder holds no scores.
    """
    path = Path(out) / SCORES
    if not path.exists():
        raise InputError(f"'{out}' holds no {SCORES}; run `neuromask evaluate ... --out {out}`")
    return pq.read_table(path)
