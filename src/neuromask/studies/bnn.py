"""Do explanations survive binarization? The BNN-versus-full-precision study.

Widdicombe & Julier (2021), "Gradient-Based Interpretability Methods and Binarized Neural
Networks", compared saliency maps of binarized (BNN) and full-precision (FP) networks by
eye and reported three findings: (1) plain gradient maps look very similar on both;
(2) SmoothGrad is significantly noisier on BNNs; (3) Grad-CAM differs between the two,
some BNN maps seemingly nonsensical. This study measures each with numbers::

    from neuromask.studies import run_bnn_study
    findings = run_bnn_study("out/bnn", quick=True)

For every dataset it trains (or loads from the cache) several seeds of the FP CNN and of
its binarized twin, explains the same held-out images with every method, and reads each
FP-vs-BNN similarity against the FP-vs-FP and BNN-vs-BNN similarities across seeds, with
hierarchical-bootstrap 95 % intervals (seeds, then images). Then the experiments that say
why: the sign's backward rule swapped at explanation time, a forward-only SmoothGrad, the
estimator window's occupancy under noise, and Grad-CAM with the batch-norm mean removed
and with non-zero padding. Writes ``results.json``, ``findings.json`` and the report
(:mod:`neuromask.studies.report`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import neuromask

from .._core import write_bytes, write_text
from ..datasets import generate
from ..errors import InputError, UnsupportedModelError
from ..metrics.complexity import total_variation
from ..metrics.faithfulness import deletion, insertion
from ..metrics.localisation import auroc, energy_pointing_game
from ..metrics.sanity import randomisation_correlation
from ..models.binary import BACKWARD_RULES, backward_rule, padding_value
from ..models.train import TEST_START
from . import stats
from .config import ARCHS, FULL, QUICK, StudyConfig
from .findings import build_findings
from .models import SeedModel, seed_model
from .probes import forward_smoothgrad, gradcam_centred, window_occupancy
from .report import write_report

# Kinds of map that never call the model's backward pass: they must not depend on the
# sign's backward rule at all (read from the registry through method_info(m).kind).
FORWARD_ONLY_KINDS = ("perturbation",)
# The held-out images: a generator seed no training run uses, from sample 10^9 on.
IMAGES_SEED = 20_211_001
# Deletion / insertion curves in this many steps (the metrics' default is finer; 25 points
# per curve keep the cost of 10 models x 10 methods down and still resolve the AUC).
FAITHFULNESS_STEPS = 25
# Kinds whose explanation is an optimisation of hundreds of steps: left out of the
# estimator swap (4 backward rules x every seed) to keep the run's cost down.
OPTIMISING_KINDS = ("mask",)


def study_methods(config: StudyConfig) -> list[str]:
    """The methods a run explains with, in display order (from the registry)."""
    if config.methods:
        unknown = [m for m in config.methods if m not in neuromask.methods()]
        if unknown:
            raise InputError(f"unknown method(s) {unknown}; choose from {neuromask.methods()}")
        return [m for m in neuromask.methods() if m in config.methods]
    return [m for m in neuromask.methods(available=True) if neuromask.method_info(m).kind != "baseline"]


def _explain(model: nn.Module, x: torch.Tensor, y: torch.Tensor, method: str, **params: Any) -> np.ndarray:
    """The maps (N, H, W) of ``method`` on inputs x (N, C, H, W) for targets y (N,); ``explain()``
    scales the pixel-sized options to the images itself (:func:`neuromask.resolve_options`)."""
    return neuromask.explain(model, x, target=y, method=method, **params).attribution.numpy()


def _options(d: _Dataset, method: str) -> dict[str, Any]:
    """Every option the main maps of ``method`` are made with on ``d``'s images (what explain() records)."""
    height, width = d.x.shape[-2:]
    return neuromask.resolve_options(method, {}, size=(int(height), int(width)))


def _conv_layers(model: nn.Module) -> list[str]:
    """Names of every nn.Conv2d (binarized ones included), in order: Grad-CAM's layers."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def _bands(fp: np.ndarray, bnn: np.ndarray, resamples: int) -> dict[str, dict[str, Any]]:
    """Every similarity's three bands and gap for maps fp, bnn (S, N, H, W)."""
    out = {}
    for name, fn in stats.SIMILARITIES.items():
        out[name] = stats.bootstrap_pairs(
            stats.pair_matrix(fp, fp, fn, True),
            stats.pair_matrix(bnn, bnn, fn, True),
            stats.pair_matrix(fp, bnn, fn, False),
            resamples=resamples,
        )
    return out


def _per_model(values: list[np.ndarray]) -> np.ndarray:
    """Stack per-seed values (N,) into (S, N) float64."""
    return np.stack([np.asarray(v, dtype=np.float64) for v in values])


@dataclass
class _Dataset:
    """Everything one dataset's part of the study works on."""

    name: str
    x: torch.Tensor
    y: torch.Tensor
    evidence: torch.Tensor
    models: dict[str, list[SeedModel]]
    maps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)


def _map_metrics(d: _Dataset, arch: str, method: str, maps: np.ndarray, sanity: bool) -> dict[str, np.ndarray]:
    """Per-(seed, image) metrics (S, N) of one method's maps (S, N, H, W)."""
    per: dict[str, list[np.ndarray]] = {}
    step = -(-d.x.shape[-2] * d.x.shape[-1] // FAITHFULNESS_STEPS)
    for s, sm in enumerate(d.models[arch]):
        a = torch.from_numpy(maps[s])
        row = {
            "total_variation": total_variation(a).numpy(),
            "high_frequency": stats.high_frequency_share(maps[s]),
            "all_zero": (np.abs(maps[s]).reshape(len(a), -1).max(1) == 0).astype(np.float64),
            "energy_pointing": energy_pointing_game(a, d.evidence).numpy(),
            "auroc": auroc(a, d.evidence).numpy(),
            "deletion": deletion(sm.model, d.x, d.y, a, pixels_per_step=step).numpy(),
            "insertion": insertion(sm.model, d.x, d.y, a, pixels_per_step=step).numpy(),
        }
        if sanity:
            row["randomisation"] = randomisation_correlation(
                sm.model, d.x, d.y, a, method=method, params=_options(d, method)
            ).numpy()
        for k, v in row.items():
            per.setdefault(k, []).append(v)
    return {k: _per_model(v) for k, v in per.items()}


def _summarise(values: dict[str, np.ndarray], resamples: int) -> dict[str, Any]:
    return {k: stats.bootstrap_mean(v, resamples=resamples) for k, v in values.items()}


def _main_maps(d: _Dataset, methods: list[str], config: StudyConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Every method on every model: the maps, their metrics, and the similarity bands."""
    metrics: dict[str, dict[str, Any]] = {arch: {} for arch in ARCHS}
    raw: dict[str, dict[str, dict[str, np.ndarray]]] = {arch: {} for arch in ARCHS}
    for arch in ARCHS:
        d.maps[arch], d.errors[arch] = {}, {}
        for method in methods:
            started = time.perf_counter()
            try:
                maps = np.stack([_explain(sm.model, d.x, d.y, method) for sm in d.models[arch]])
            except UnsupportedModelError as exc:
                d.errors[arch][method] = str(exc)
                log(f"  {d.name} {arch} {method}: refused ({exc})")
                continue
            d.maps[arch][method] = maps
            sanity = not config.sanity_methods or method in config.sanity_methods
            raw[arch][method] = _map_metrics(d, arch, method, maps, sanity)
            metrics[arch][method] = _summarise(raw[arch][method], config.resamples)
            log(f"  {d.name} {arch} {method}: {time.perf_counter() - started:.1f} s")
    similarity = {
        m: _bands(d.maps["cnn"][m], d.maps["bnn"][m], config.resamples)
        for m in methods
        if m in d.maps["cnn"] and m in d.maps["bnn"]
    }
    options = {m: _options(d, m) for m in methods}
    return {"metrics": metrics, "similarity": similarity, "errors": d.errors, "options": options, "_raw": raw}


def _smoothgrad_grid(d: _Dataset, config: StudyConfig) -> dict[str, Any]:
    """SmoothGrad's noise at several noise levels, and its convergence with the sample count
    (Spearman between two independent estimates, seeds 0 and 1, with n samples each)."""
    noise: dict[str, Any] = {}
    for level in config.smoothgrad_noise:
        per_arch = {}
        for arch in ARCHS:
            maps = [_explain(sm.model, d.x, d.y, "smoothgrad", noise_level=level) for sm in d.models[arch]]
            per_arch[arch] = {
                "total_variation": _per_model([total_variation(torch.from_numpy(m)).numpy() for m in maps]),
                "high_frequency": _per_model([stats.high_frequency_share(m) for m in maps]),
            }
        noise[str(level)] = {arch: _summarise(per_arch[arch], config.resamples) for arch in ARCHS} | {
            "tv_ratio_bnn_fp": stats.bootstrap_ratio(
                per_arch["bnn"]["total_variation"], per_arch["cnn"]["total_variation"], resamples=config.resamples
            )
        }
    convergence: dict[str, Any] = {arch: {} for arch in ARCHS}
    for arch in ARCHS:
        for n in config.smoothgrad_samples:
            rho = [
                stats.spearman(
                    _explain(sm.model, d.x, d.y, "smoothgrad", samples=n, seed=0),
                    _explain(sm.model, d.x, d.y, "smoothgrad", samples=n, seed=1),
                )
                for sm in d.models[arch]
            ]
            convergence[arch][str(n)] = stats.bootstrap_mean(_per_model(rho), resamples=config.resamples)
    return {"noise": noise, "convergence": convergence}


def _forward_smoothgrad(d: _Dataset, config: StudyConfig) -> dict[str, Any]:
    """Estimator-based SmoothGrad against the forward-only estimate of the same quantity.

    ``agreement``: Spearman(SmoothGrad with 100 samples, forward-only); ``self``: Spearman
    of two forward-only estimates with different seeds, its own noise floor.
    """
    out: dict[str, Any] = {}
    for arch in ARCHS:
        agree, self_agree = [], []
        for sm in d.models[arch]:
            sg = _explain(sm.model, d.x, d.y, "smoothgrad", samples=100)
            fwd0 = forward_smoothgrad(sm.model, d.x, d.y, samples=config.forward_samples, seed=0).numpy()
            fwd1 = forward_smoothgrad(sm.model, d.x, d.y, samples=config.forward_samples, seed=1).numpy()
            agree.append(stats.spearman(sg, fwd0))
            self_agree.append(stats.spearman(fwd0, fwd1))
        out[arch] = {
            "agreement": stats.bootstrap_mean(_per_model(agree), resamples=config.resamples),
            "self": stats.bootstrap_mean(_per_model(self_agree), resamples=config.resamples),
        }
    return out


def _occupancy(d: _Dataset, config: StudyConfig) -> dict[str, Any]:
    """Share of pre-sign activations in |a| <= 1 per BNN sign layer and noise level."""
    out: dict[str, Any] = {}
    for level in config.occupancy_noise:
        per_layer = np.stack([window_occupancy(sm.model, d.x, noise_level=level).numpy() for sm in d.models["bnn"]])
        out[str(level)] = [
            stats.bootstrap_mean(per_layer[:, k].astype(np.float64), resamples=config.resamples)
            for k in range(per_layer.shape[1])
        ]
    return out


def _estimator_swap(d: _Dataset, methods: list[str], config: StudyConfig) -> dict[str, Any]:
    """Each backward rule of the sign on the BNNs: how far each method's maps move from the
    hardtanh (training) rule, whether forward-only methods stay bit-identical, and the
    FP-vs-BNN similarity under each rule."""
    out: dict[str, Any] = {
        "rules": [r for r in BACKWARD_RULES if r != "hardtanh"],
        "methods": {},
        "logits_identical": True,
    }
    base = d.maps["bnn"]
    for method in methods:
        if method not in base or neuromask.method_info(method).kind in OPTIMISING_KINDS:
            continue
        forward_only = neuromask.method_info(method).kind in FORWARD_ONLY_KINDS
        # Bit-identity is a yes/no check: one seed settles it; the gradient maps' movement
        # is an estimate and uses every seed.
        models = d.models["bnn"][:1] if forward_only else d.models["bnn"]
        entry: dict[str, Any] = {
            "forward_only": forward_only,
            "bit_identical": {},
            "spearman_to_hardtanh": {},
            "fp_bnn": {},
        }
        for rule in BACKWARD_RULES:
            if rule == "hardtanh":  # the rule the maps in d.maps were made with
                continue
            maps = []
            for sm in models:
                with backward_rule(sm.model, rule):
                    maps.append(_explain(sm.model, d.x, d.y, method))
                    with torch.no_grad():
                        logits = sm.model(d.x)
                with torch.no_grad():
                    out["logits_identical"] &= bool(torch.equal(logits, sm.model(d.x)))
            stacked = np.stack(maps)
            entry["bit_identical"][rule] = bool(np.array_equal(stacked, base[method][: len(models)]))
            entry["spearman_to_hardtanh"][rule] = stats.bootstrap_mean(
                _per_model([stats.spearman(stacked[s], base[method][s]) for s in range(len(maps))]),
                resamples=config.resamples,
            )
            if forward_only:
                continue
            fn = stats.spearman
            entry["fp_bnn"][rule] = stats.bootstrap_pairs(
                stats.pair_matrix(d.maps["cnn"][method], d.maps["cnn"][method], fn, True),
                stats.pair_matrix(stacked, stacked, fn, True),
                stats.pair_matrix(d.maps["cnn"][method], stacked, fn, False),
                resamples=config.resamples,
            )
        out["methods"][method] = entry
    return out


def _gradcam_layers(d: _Dataset, config: StudyConfig) -> dict[str, Any]:
    """Grad-CAM at every convolution (depth 1..4), plain, with the following batch norm's
    mean removed, and (BNN only) with the binarized convolutions padded with -1."""
    variants: dict[str, dict[str, list[np.ndarray]]] = {}
    depth_count = len(_conv_layers(d.models["cnn"][0].model))
    for arch in ARCHS:
        for sm in d.models[arch]:
            for depth, layer in enumerate(_conv_layers(sm.model)):
                key = str(depth + 1)
                plain = _explain(sm.model, d.x, d.y, "gradcam", layer=layer)
                centred = gradcam_centred(sm.model, d.x, d.y, layer).numpy()
                variants.setdefault(f"{arch}/plain", {}).setdefault(key, []).append(plain)
                variants.setdefault(f"{arch}/bn_mean_removed", {}).setdefault(key, []).append(centred)
                if arch == "bnn":
                    with padding_value(sm.model, -1.0):
                        padded = _explain(sm.model, d.x, d.y, "gradcam", layer=layer)
                    variants.setdefault("bnn/pad_minus_one", {}).setdefault(key, []).append(padded)
    accuracy_padded = []
    for sm in d.models["bnn"]:
        with padding_value(sm.model, -1.0), torch.no_grad():
            accuracy_padded.append(float((sm.model(d.x).argmax(1) == d.y).float().mean()))
    out: dict[str, Any] = {
        "layers": depth_count,
        "variants": {},
        "similarity": {},
        "bnn_accuracy_on_images": {},
        "bnn_pad_minus_one_accuracy_on_images": accuracy_padded,
    }
    for sm in d.models["bnn"]:
        with torch.no_grad():
            out["bnn_accuracy_on_images"][sm.seed] = float((sm.model(d.x).argmax(1) == d.y).float().mean())
    for variant, by_depth in variants.items():
        out["variants"][variant] = {}
        for key, maps_list in by_depth.items():
            maps = np.stack(maps_list)
            zero = (np.abs(maps).reshape(*maps.shape[:2], -1).max(2) == 0).astype(np.float64)
            epg = _per_model([energy_pointing_game(torch.from_numpy(m), d.evidence).numpy() for m in maps])
            border = _per_model([_border_share(m) for m in maps])
            out["variants"][variant][key] = {
                "all_zero": stats.bootstrap_mean(zero, resamples=config.resamples),
                "energy_pointing": stats.bootstrap_mean(epg, resamples=config.resamples),
                "border_share": stats.bootstrap_mean(border, resamples=config.resamples),
            }
            by_depth[key] = [maps]  # keep the stacked maps for the similarity below
    for variant in ("plain", "bn_mean_removed", "pad_minus_one"):
        fp_variant = "plain" if variant == "pad_minus_one" else variant
        out["similarity"][variant] = {}
        for key in variants[f"bnn/{variant}"]:
            fp, bnn = variants[f"cnn/{fp_variant}"][key][0], variants[f"bnn/{variant}"][key][0]
            fn = stats.spearman
            out["similarity"][variant][key] = stats.bootstrap_pairs(
                stats.pair_matrix(fp, fp, fn, True),
                stats.pair_matrix(bnn, bnn, fn, True),
                stats.pair_matrix(fp, bnn, fn, False),
                resamples=config.resamples,
            )
    return out


def _border_share(maps: np.ndarray, width: int = 2) -> np.ndarray:
    """Share (N,) of each map's positive mass within ``width`` pixels of the image border;
    NaN for a map with no positive value."""
    positive = np.clip(maps, 0, None)
    inner = positive[:, width:-width, width:-width].sum(axis=(1, 2))
    total = positive.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 1 - inner / total, np.nan)


def _strip(obj: Any) -> Any:
    """Drop bootstrap replicates and private keys: what goes into results.json."""
    if isinstance(obj, dict):
        return {str(k): _strip(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def _load_dataset(name: str, config: StudyConfig, cache: Path, log: Callable[[str], None]) -> _Dataset:
    data = generate(name, config.images, seed=IMAGES_SEED, start=TEST_START)
    models: dict[str, list[SeedModel]] = {}
    for arch in ARCHS:
        models[arch] = []
        for seed in range(config.seeds):
            started = time.perf_counter()
            models[arch].append(seed_model(name, arch, seed, config.recipes[name], cache))
            log(
                f"  {name} {arch} seed {seed}: accuracy {models[arch][-1].record['accuracy']:.3f} "
                f"({time.perf_counter() - started:.0f} s)"
            )
    return _Dataset(name, data.images, data.labels, data.evidence, models)


def study_dataset(name: str, config: StudyConfig, cache: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole study on one dataset. Returns its results, with the bootstrap replicates
    (``_samples``) that pooling across datasets needs, and the seed-0 maps (``_maps``)."""
    started = time.perf_counter()
    d = _load_dataset(name, config, cache, log)
    methods = study_methods(config)
    result: dict[str, Any] = {
        "dataset": name,
        "images": int(d.x.shape[0]),
        "image_size": list(d.x.shape[-2:]),
        "recipe": asdict(config.recipes[name]),
        "accuracy": {arch: [sm.record["accuracy"] for sm in d.models[arch]] for arch in ARCHS},
    }
    parts: tuple[tuple[str, Callable[[], dict[str, Any]]], ...] = (
        ("main", lambda: _main_maps(d, methods, config, log)),
        ("smoothgrad", lambda: _smoothgrad_grid(d, config)),
        ("forward_smoothgrad", lambda: _forward_smoothgrad(d, config)),
        ("occupancy", lambda: _occupancy(d, config)),
        ("estimator_swap", lambda: _estimator_swap(d, methods, config)),
        ("gradcam_layers", lambda: _gradcam_layers(d, config)),
    )
    for part, fn in parts:
        part_started = time.perf_counter()
        result[part] = fn()
        log(f"  {name} {part}: {time.perf_counter() - part_started:.1f} s")
    result["timing"] = {
        "seconds": round(time.perf_counter() - started, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average": list(_load_average()),
        "threads": torch.get_num_threads(),
    }
    result["_maps"] = {
        "images": d.x[:, 0].numpy(),
        "evidence": d.evidence.numpy(),
        **{f"{arch}/{m}": maps[0] for arch in ARCHS for m, maps in d.maps[arch].items()},
    }
    return result


def run_bnn_study(
    out: str | Path,
    *,
    quick: bool = False,
    datasets: tuple[str, ...] | list[str] | None = None,
    cache: str | Path | None = None,
    config: StudyConfig | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the study and write its results, findings and report into ``out``.

    Args:
        out: the output folder (created).
        quick: the quick configuration (3 seeds, 6 images, 8 methods) instead of the
            full one (5 seeds, 8 images, every method). Each dataset's results are kept
            in ``out/partial`` when it finishes; a rerun reads them instead of recomputing.
        datasets: dataset names (default: every dataset of the configuration).
        cache: where trained seed models are kept (default ``out/models``).
        config: a configuration of one's own (overrides ``quick``).
        log: where progress lines go.

    Returns:
        What ``findings.json`` holds: ``{"findings": [the paper's three], "neuromask": ...}``
        (see :func:`neuromask.studies.findings.build_findings`).
    """
    config = config or (QUICK if quick else FULL)
    if datasets:
        unknown = [n for n in datasets if n not in config.recipes]
        if unknown:
            raise InputError(f"unknown dataset(s) {unknown}; the study runs on {', '.join(config.recipes)}")
        config = replace(config, datasets=tuple(datasets))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache) if cache is not None else out / "models"
    started = time.perf_counter()
    results = []
    for name in config.datasets:
        done = _partial_path(out, name, config)
        if done.exists():
            log(f"{name}: done before, read from {done}")
            with done.open("rb") as fh:
                results.append(pickle.load(fh))
            continue
        log(f"{name}:")
        results.append(study_dataset(name, config, cache, log))
        done.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(done, pickle.dumps(results[-1]))
    summary = build_findings(results, config)
    meta = {
        "config": asdict(config),
        "methods": study_methods(config),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "load_average": list(_load_average()),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
    }
    write_text(out / "results.json", json.dumps(_strip({"meta": meta, "datasets": results}), indent=1) + "\n")
    write_text(out / "findings.json", json.dumps(summary, indent=2) + "\n")
    write_report(out, meta, results, summary)
    log(f"wrote {out}/report.md, report.html, findings.json and results.json in {meta['seconds']:.0f} s")
    return summary


def _partial_path(out: Path, dataset: str, config: StudyConfig) -> Path:
    """Where one dataset's finished results are kept, keyed by everything in the
    configuration but the list of datasets: a rerun (or a run with more datasets) reuses
    them instead of computing them again."""
    key = json.dumps({k: v for k, v in asdict(config).items() if k != "datasets"}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return out / "partial" / f"{dataset}-{config.name}-{digest}.pkl"


def _load_average() -> tuple[float, ...]:
    try:
        import os

        return tuple(round(v, 2) for v in os.getloadavg())
    except OSError:
        return ()
