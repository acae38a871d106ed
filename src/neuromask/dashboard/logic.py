"""What the dashboard computes, as plain functions that need no Streamlit.

The Streamlit script (``neuromask/dashboard/_app.py``) only lays these out; the tests
call them directly and drive the script with Streamlit's ``AppTest``.

Shapes: ``inputs`` (1, C, H, W) preprocessed for the model; ``picture`` (H, W, 3) float
in [0, 1], what the model saw; maps (H, W) at the model's input size.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

import neuromask
from neuromask import datasets, metrics
from neuromask.errors import ImageLoadError, ImageNote, InputError
from neuromask.outputs import NOT_RECORDED, explanation_record, write_image_files
from neuromask.types import LoadedModel

# An upload larger than this is refused before it is decoded: a 40-megapixel photo is
# already far beyond what a classifier sees (224 px), and decoding a much larger one
# could take the server's memory from every other session.
MAX_PIXELS = 40_000_000
# The bytes limit the CLI gives Streamlit's uploader (server.maxUploadSize, in MB).
MAX_UPLOAD_MB = 50
# Overlays smaller than this (the shipped 32 px models) are enlarged for the page.
DISPLAY_SIDE = 256
# How many snapshots of NeuroMask's mask the slider offers.
HISTORY_FRAMES = 20

# The shipped samples: scikit-image's photos (for ImageNet models) and one image of each
# known-answer dataset (for the shipped small models).
PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")


def sample_names() -> list[str]:
    """The names of the shipped sample images: photos, then one per known-answer dataset."""
    return list(PHOTOS) + list(datasets.DATASETS.names())


def sample_image(name: str, seed: int = 0) -> Image.Image:
    """A shipped sample as an RGB image: a scikit-image photo, or a known-answer dataset's image ``seed``."""
    if name in PHOTOS:
        from skimage import data

        return Image.fromarray(getattr(data, name)()).convert("RGB")
    if name in datasets.DATASETS:
        pixels = datasets.generate(name, 1, seed=seed).images[0]  # (C, H, W) in [0, 1]
        array = (pixels.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        return Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array).convert("RGB")
    raise InputError(f"unknown sample '{name}'; choose one of: {', '.join(sample_names())}")


def read_upload(data: bytes, name: str) -> tuple[Image.Image, list[str]]:
    """The bytes of an uploaded file -> an RGB image and the notes about it (e.g. only an
    animation's first frame is used), or one :class:`ImageLoadError` that names the file.

    The pixel count is read from the header first, so that a huge image is refused before
    it is decoded; everything else (not an image, corrupt, truncated, too small) is
    :func:`neuromask.load_image`'s check, the same as the CLI's.
    """
    if not data:
        raise ImageLoadError(f"'{name}' is empty (0 bytes); upload an image file")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Image.DecompressionBombError:
        raise ImageLoadError(
            f"'{name}' is too large to open safely; upload an image under {MAX_PIXELS / 1e6:.0f} megapixels"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        width = height = 0  # not readable: load_image below says why
    if width * height > MAX_PIXELS:
        raise ImageLoadError(
            f"'{name}' is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"upload an image under {MAX_PIXELS / 1e6:.0f} megapixels"
        )
    suffix = Path(name).suffix if Path(name).suffix.isascii() else ""
    fd, tmp = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # load_image reports notes as ImageNote warnings; catch_warnings swaps process-wide
        # state, so sessions take turns here.
        with _NOTES_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ImageNote)
            image = neuromask.load_image(tmp)
    except ImageLoadError as exc:
        raise ImageLoadError(str(exc).replace(f"image '{tmp}'", f"'{name}'")) from None
    finally:
        os.unlink(tmp)
    notes = [str(w.message).replace(f"image '{tmp}'", f"'{name}'") for w in caught if issubclass(w.category, ImageNote)]
    return image, notes


_NOTES_LOCK = threading.Lock()


def image_digest(image: Image.Image) -> str:
    """A short fingerprint of an image's pixels: results are remembered per (image, model, target, options)."""
    h = hashlib.sha256(f"{image.size}{image.mode}".encode())
    h.update(image.tobytes())
    return h.hexdigest()[:16]


# Every explanation (and every other use of a model) of the server runs on this one thread,
# one at a time:
# - explanations put hooks on a model and freeze its parameters for their duration, and the
#   models are shared by every session (st.cache_resource), so two at once on one model
#   would see each other's hooks;
# - the session's own script thread stays free to draw the progress and react to the page;
# - a long-lived thread keeps one OpenMP team for torch, instead of a new one per script run.
# Its torch threads: `neuromask dashboard --threads N` passes N through this variable;
# unset, PyTorch's default. On a loaded machine one thread can be far faster: NeuroMask,
# 150 steps on a 32 px image, took 0.5 s with one thread and 32 s with two while the load
# average was 25 on 2 cores (the second OpenMP thread only waits for a core).
THREADS_ENV = "NEUROMASK_DASHBOARD_THREADS"


def _init_worker() -> None:
    threads = os.environ.get(THREADS_ENV)
    if threads:
        torch.set_num_threads(int(threads))  # OpenMP's count is per thread: this one only


_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="neuromask-explain", initializer=_init_worker)


def submit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
    """Run ``fn(*args, **kwargs)`` on the explanation thread; the future holds its result or exception."""
    return _WORKER.submit(fn, *args, **kwargs)


def prepare(model: LoadedModel, image: Image.Image) -> tuple[torch.Tensor, np.ndarray]:
    """An image -> model inputs (1, C, H, W) and the picture the model sees, (H, W, 3) float in [0, 1]."""
    tensor, _ = neuromask.preprocess_image(model, image)
    inputs = tensor.unsqueeze(0)
    pixels = model.denormalize(inputs)[0].clamp(0, 1).permute(1, 2, 0).numpy()
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return inputs, pixels.astype(np.float32)


def top_classes(model: LoadedModel, inputs: torch.Tensor, k: int = 5) -> list[tuple[int, str, float]]:
    """The model's k most probable classes for inputs (1, C, H, W): (index, label, probability), best first."""
    with torch.no_grad():
        probs = model.module(inputs).softmax(dim=1)[0]
    values, indices = probs.topk(min(k, probs.numel()))
    return [(int(i), model.label(int(i)), float(p)) for p, i in zip(values, indices)]


def method_names() -> list[str]:
    """The methods that run here (their optional extras installed), in the registry's display order."""
    return neuromask.methods(available=True)


@dataclass
class MethodResult:
    """One method's explanation of one image, with its scores.

    Attributes:
        method: the registered name; ``kind``: its registry kind; ``is_mask``: a mask
            in [0, 1] (shown on the shared colour scale).
        attribution: (H, W) float32 at the model's input size.
        seconds: wall-clock seconds of the explanation alone.
        scores: ``deletion`` (lower is better), ``insertion`` (higher is better) and, for
            mask methods, ``mask_area`` and ``masked_probability``.
        history: (K, H, W) the mask during the optimisation, or ``None``.
        history_steps: the step of each of the K snapshots.
        params: the options used (without the progress callback).
        record: the per-image record (:func:`neuromask.outputs.explanation_record`), scores included.
    """

    method: str
    kind: str
    is_mask: bool
    attribution: np.ndarray
    seconds: float
    scores: dict[str, float]
    history: np.ndarray | None = None
    history_steps: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


# The scores the Explain page shows, each for the maps it applies to (metric_info(m).applies_to).
SCORES = ("deletion", "insertion", "mask_area", "masked_probability")


def score(
    model: LoadedModel, inputs: torch.Tensor, target: int, attribution: torch.Tensor, kind: str
) -> dict[str, float]:
    """The :data:`SCORES` that apply to a map (H, W) of a method of ``kind``, for inputs (1, C, H, W):
    deletion and insertion AUC for any map, mask area and masked probability for masks."""
    data = metrics.ScoringData(attribution=attribution[None], model=model, inputs=inputs, target=torch.tensor([target]))
    return {name: float(metrics.score(name, data)[0]) for name in SCORES if metrics.metric_info(name).applies(kind)}


def run_method(
    model: LoadedModel,
    inputs: torch.Tensor,
    target: int,
    method: str,
    options: dict[str, Any] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    with_scores: bool = True,
    image: str = "image",
) -> MethodResult:
    """Explain inputs (1, C, H, W) for ``target`` with ``method`` and score the map; ``image``
    names the image in the record.

    A method with a ``history_every`` option (NeuroMask) records its mask ``HISTORY_FRAMES``
    times over its steps for the slider; one that reports progress calls ``progress(done, total)``.
    The dashboard runs it through :func:`submit`.
    """
    options = dict(options or {})
    info = neuromask.method_info(method)
    if "history_every" in info.options:
        steps = int(options.get("steps", info.options["steps"]))
        options.setdefault("history_every", max(1, steps // HISTORY_FRAMES))
    if progress is not None and info.progress:
        options["progress"] = progress
    explanation = neuromask.explain(model, inputs, target=target, method=method, **options)
    attribution = explanation.attribution[0]
    measured = score(model, inputs, target, attribution, info.kind) if with_scores else {}
    scores = {**measured, "seconds": explanation.seconds}
    history = explanation.extras.get("history")
    record = explanation_record(explanation, 0, image=image, model=model, scores=measured)
    return MethodResult(
        method=method,
        kind=info.kind,
        is_mask=info.is_mask,
        attribution=attribution.numpy().astype(np.float32),
        seconds=explanation.seconds,
        scores=scores,
        history=None if history is None else history[0].numpy().astype(np.float32),
        history_steps=[int(s) for s in explanation.extras.get("history_steps", [])],
        params={k: v for k, v in explanation.params.items() if k not in NOT_RECORDED},
        record=record,
    )


@dataclass
class Runs:
    """One session's explanations: those finished, failed and still running, by a key the
    page chooses (image, model, target, method, options).

    A run goes on on the explanation thread when the page reruns (the user changed a
    widget meanwhile), and its result is collected on a later rerun; starting a key that
    is already running or finished starts nothing.

    Attributes:
        results: key -> :class:`MethodResult`.
        failures: key -> a one-line message naming the method and the exception.
        running: key -> the :class:`~concurrent.futures.Future` of a run not yet collected.
        progress: key -> (done, total) as last reported by the method.
        methods: key -> the method it runs.
    """

    results: dict[Hashable, MethodResult] = field(default_factory=dict)
    failures: dict[Hashable, str] = field(default_factory=dict)
    running: dict[Hashable, Future[Any]] = field(default_factory=dict)
    progress: dict[Hashable, tuple[int, int]] = field(default_factory=dict)
    methods: dict[Hashable, str] = field(default_factory=dict)

    def start(
        self,
        key: Hashable,
        model: LoadedModel,
        inputs: torch.Tensor,
        target: int,
        method: str,
        options: dict[str, Any] | None = None,
        *,
        with_scores: bool = True,
        image: str = "image",
    ) -> None:
        """Queue ``run_method`` for ``key`` unless it is finished or running; forget an earlier failure."""
        if key in self.results or key in self.running:
            return
        self.failures.pop(key, None)
        self.methods[key] = method

        def report(done: int, total: int) -> None:  # on the explanation thread: one assignment
            self.progress[key] = (done, total)

        self.running[key] = submit(
            run_method, model, inputs, target, method, options, progress=report, with_scores=with_scores, image=image
        )

    def collect(self) -> None:
        """Move every finished run into ``results`` or ``failures``."""
        for key, future in list(self.running.items()):
            if not future.done():
                continue
            del self.running[key]
            exc = future.exception()
            if exc is None:
                self.results[key] = future.result()
            else:  # shown on the page, one line per method; the other methods still run
                self.failures[key] = f"{self.methods[key]} failed: {type(exc).__name__}: {exc}"


def display_values(attribution: np.ndarray, is_mask: bool) -> np.ndarray:
    """A map (H, W) -> [0, 1] for colouring.

    Masks share one fixed scale, their own values in [0, 1], so that two masks compare
    pixel for pixel; other maps have no common unit and each is stretched between its
    1st and 99th percentiles (:func:`neuromask.viz.grid.normalise_for_display`).
    """
    if is_mask:
        return np.asarray(np.clip(attribution, 0.0, 1.0), dtype=np.float32)
    from neuromask.viz.grid import normalise_for_display

    return normalise_for_display(attribution)


def overlay(
    picture: np.ndarray, values: np.ndarray | None = None, *, alpha: float = 0.5, cmap: str = "jet"
) -> np.ndarray:
    """The picture (H, W, 3) in [0, 1] under a colour map of values (H, W) in [0, 1] (or alone): (H', W', 3) uint8.

    Enlarged (nearest neighbour, so pixels stay pixels) to at least ``DISPLAY_SIDE`` on the short side.
    """
    from matplotlib import colormaps

    blended = picture
    if values is not None:
        blended = (1 - alpha) * picture + alpha * colormaps[cmap](values)[..., :3]
    out = Image.fromarray((np.clip(blended, 0, 1) * 255).round().astype(np.uint8))
    short = min(out.size)
    if short < DISPLAY_SIDE:
        factor = -(-DISPLAY_SIDE // short)
        out = out.resize((out.width * factor, out.height * factor), Image.Resampling.NEAREST)
    return np.asarray(out)


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def results_archive(picture: np.ndarray, results: list[MethodResult]) -> bytes:
    """A zip of the results: ``image.png`` (what the model saw) and, per method, the files
    ``neuromask explain`` writes (:func:`neuromask.outputs.write_image_files`):
    ``<image>.<method>.npy`` (H, W) at the model's input size, ``.png`` (the overlay) and
    ``.json`` (the per-image record, scores included)."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("image.png", _png((picture * 255).round().astype(np.uint8)))
        for r in results:
            stem = f"{Path(r.record['image']).stem}.{r.method}"
            written = write_image_files(Path(tmp), stem, picture, r.attribution, r.record)
            for path in (written.npy, written.png, written.json):
                zf.write(path, path.name)
    return buf.getvalue()


# --- the Results page: an output folder of `neuromask benchmark` or of a dataset run ---------


@dataclass
class ResultsFolder:
    """What a results folder holds, as tables.

    Attributes:
        path: the folder.
        rows: the benchmark's rows (``rows.jsonl``: group, method, image, metric, value,
            status, error), or ``None``.
        run: a dataset run's ``results.parquet`` (one row per image and method), or ``None``.
        machine: the benchmark's ``machine.json``, or ``{}``.
        charts: the PNG charts found under the folder.
    """

    path: Path
    rows: Any = None
    run: Any = None
    machine: dict[str, Any] = field(default_factory=dict)
    charts: list[Path] = field(default_factory=list)


def open_results(folder: str | os.PathLike[str]) -> ResultsFolder:
    """Read a benchmark folder (``rows.jsonl``) and/or a dataset-run folder (``results.parquet``).

    Raises:
        InputError: the folder does not exist or holds neither file.
    """
    import pandas as pd

    from neuromask.bench import Row, has_rows, read_rows

    path = Path(folder).expanduser()
    if not path.is_dir():
        raise InputError(f"'{folder}' is not a folder; give the --out folder of `neuromask benchmark` or a dataset run")
    found = ResultsFolder(path)
    if has_rows(path / "rows.jsonl"):
        rows = read_rows(path / "rows.jsonl")
        columns = list(Row.__dataclass_fields__)
        found.rows = pd.DataFrame([r.__dict__ for r in rows], columns=columns)
        found.charts = sorted(path.glob("charts/**/*.png"))
    if (path / "machine.json").is_file():
        found.machine = json.loads((path / "machine.json").read_text(encoding="utf-8"))
    if (path / "results.parquet").is_file():
        found.run = pd.read_parquet(path / "results.parquet")
    if found.rows is None and found.run is None:
        raise InputError(
            f"'{folder}' holds neither rows.jsonl (a `neuromask benchmark` folder) nor results.parquet (a dataset run)"
        )
    return found


def benchmark_tables(rows: Any) -> Iterator[tuple[str, Any]]:
    """Per group: the mean of each (method, metric) over the images with a value, methods as rows."""
    ok = rows[rows["status"] == "ok"].dropna(subset=["value"])
    for group, part in ok.groupby("group", sort=True):
        yield str(group), part.pivot_table(index="method", columns="metric", values="value", aggfunc="mean")


def run_summary(run: Any) -> Any:
    """Per method of a dataset run: images ``ok`` and ``failed``, and the median seconds of the ``ok`` ones."""
    import pandas as pd

    counts = pd.crosstab(run["method"], run["status"]).reindex(columns=["ok", "failed"], fill_value=0)
    seconds = run[run["status"] == "ok"].groupby("method")["seconds"].median().rename("median seconds")
    return counts.join(seconds)
