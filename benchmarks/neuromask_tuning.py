"""Tune NeuroMask's defaults on development images only, and print the evidence.

Each variant (a set of NeuroMask options over the signature's defaults) explains the
same development images of the three small known-answer datasets with their shipped
CNNs and is scored on the known answer: energy pointing game (mass on the evidence),
pixel AUROC and equal-area IoU (the top-|evidence| pixels of the map against the
evidence), with 95 % bootstrap confidence intervals over the images; optionally the
rank correlation between the masks for the trained and the fully randomised model
(Adebayo et al.'s sanity check), and other methods at their defaults for comparison.

Development images: sample indices DEV_START + i of each dataset's own seed. The
benchmark explains indices from ``samples + test_samples`` (the first held-out ones,
a few hundred at most), so DEV_START = samples + test_samples + 20000 keeps the two
disjoint.

    python benchmarks/neuromask_tuning.py --variants base adam ... [--n 16] [--sanity]
    python benchmarks/neuromask_tuning.py --methods extremal_perturbation lrp_epsilon

Prints one markdown table row per (variant, dataset); ``--json`` appends the rows to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import neuromask
from neuromask.datasets import generate
from neuromask.metrics.localisation import auroc, energy_pointing_game, equal_area_iou, mass_margin
from neuromask.metrics.sanity import randomised_copy, rank_correlation

DATASETS = ("triangles_squares-cnn", "counting-cnn", "shapes_on_texture-cnn")
DEV_OFFSET = 20000
# Where the models run (--device); the maps and the scores are on the CPU either way.
DEVICE = "cpu"

# Candidate configurations, each over the defaults before issue 8 (OLD; every variant
# lists what it changes). Pixel-sized values are written relative to the image (see
# ``resolve``): "blur_frac" x the shorter side.
OLD: dict[str, Any] = {
    "optimizer": "rmsprop_tf1",
    "lr": 0.1,
    "lambda_sparse": 0.5,
    "lambda_smooth": 0.2,
    "mask_size": 28,
    "steps": 200,
    "smooth_norm": "l1",
    "baseline": "blur",
    "blur_frac": 10 / 224,
    "lambda_delete": 0.0,
    "delete_baseline": None,
}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},  # the signature's defaults as they are now (not over OLD)
    "old": {},  # the defaults before issue 8 (blur sigma 10 px at 224 px, scaled with the image)
    "adam": {"optimizer": "adam"},
    "adam_del": {"optimizer": "adam", "lambda_delete": 1.0},
    "adam_del_mean": {"optimizer": "adam", "lambda_delete": 1.0, "baseline": "mean"},
    "adam_del_zero": {"optimizer": "adam", "lambda_delete": 1.0, "baseline": "zero"},
    "adam_del_area": {
        "optimizer": "adam",
        "lambda_delete": 1.0,
        "area": 0.1,
        "lambda_area": 10.0,
        "lambda_sparse": 0.0,
    },
    # round 2: around adam_del
    "ad_sp0.2": {"optimizer": "adam", "lambda_delete": 1.0, "lambda_sparse": 0.2},
    "ad_sp1": {"optimizer": "adam", "lambda_delete": 1.0, "lambda_sparse": 1.0},
    "ad_sm0": {"optimizer": "adam", "lambda_delete": 1.0, "lambda_smooth": 0.0},
    "ad_sm1": {"optimizer": "adam", "lambda_delete": 1.0, "lambda_smooth": 1.0},
    "ad_grid14": {"optimizer": "adam", "lambda_delete": 1.0, "mask_size": 14},
    "ad_grid7": {"optimizer": "adam", "lambda_delete": 1.0, "mask_size": 7},
    "ad_del3": {"optimizer": "adam", "lambda_delete": 3.0},
    "ad_lr0.03": {"optimizer": "adam", "lambda_delete": 1.0, "lr": 0.03},
    "ad_blur0.1": {"optimizer": "adam", "lambda_delete": 1.0, "blur_frac": 0.1},
}
# round 3: around adam_del_mean (the per-image mean colour as the hidden pixels)
_M = {"optimizer": "adam", "lambda_delete": 1.0, "baseline": "mean"}
VARIANTS.update(
    {
        "m_sp0.2": {**_M, "lambda_sparse": 0.2},
        "m_sp1": {**_M, "lambda_sparse": 1.0},
        "m_sm0": {**_M, "lambda_smooth": 0.0},
        "m_sm1": {**_M, "lambda_smooth": 1.0},
        "m_grid14": {**_M, "mask_size": 14},
        "m_del3": {**_M, "lambda_delete": 3.0},
        "m_del0.3": {**_M, "lambda_delete": 0.3},
        "m_lr0.03": {**_M, "lr": 0.03},
        "m_steps100": {**_M, "steps": 100},
        "adam_blur0.1": {"optimizer": "adam", "blur_frac": 0.1},
        "ad_blur0.2": {"optimizer": "adam", "lambda_delete": 1.0, "blur_frac": 0.2},
        "adam_full": {"optimizer": "adam", "mask_size": None},
        "m_full": {**_M, "mask_size": None},
        "m_full_sm0": {**_M, "mask_size": None, "lambda_smooth": 0.0},
        "m_grid56": {**_M, "mask_size": 56},
        "ad_full": {"optimizer": "adam", "lambda_delete": 1.0, "mask_size": None},
        # round 5: around adam (blur baseline, preservation only)
        "a_sp1": {"optimizer": "adam", "lambda_sparse": 1.0},
        "a_sp2": {"optimizer": "adam", "lambda_sparse": 2.0},
        "a_sm0": {"optimizer": "adam", "lambda_smooth": 0.0},
        "a_del0.2": {"optimizer": "adam", "lambda_delete": 0.2},
        "a_steps400": {"optimizer": "adam", "steps": 400},
        # round 6: blur for the preservation game, the mean colour for the deletion game
        "bm": {"optimizer": "adam", "lambda_delete": 1.0, "delete_baseline": "mean"},
        "bm_del0.3": {"optimizer": "adam", "lambda_delete": 0.3, "delete_baseline": "mean"},
        "bm_sm0": {"optimizer": "adam", "lambda_delete": 1.0, "delete_baseline": "mean", "lambda_smooth": 0.0},
        "bm_sp1": {"optimizer": "adam", "lambda_delete": 1.0, "delete_baseline": "mean", "lambda_sparse": 1.0},
        # round 7: around bm_del0.3
        "bm3_sp1": {"optimizer": "adam", "lambda_delete": 0.3, "delete_baseline": "mean", "lambda_sparse": 1.0},
        "bm1": {"optimizer": "adam", "lambda_delete": 0.1, "delete_baseline": "mean"},
        "bm3_steps100": {"optimizer": "adam", "lambda_delete": 0.3, "delete_baseline": "mean", "steps": 100},
        "bm3_full": {"optimizer": "adam", "lambda_delete": 0.3, "delete_baseline": "mean", "mask_size": None},
        "bm3_blur0.1": {"optimizer": "adam", "lambda_delete": 0.3, "delete_baseline": "mean", "blur_frac": 0.1},
        # round 10: the L1 smoothness's subgradient flips sign on responses of rounding size,
        # and Adam turns that into full steps (a batch no longer equals its images one by
        # one): the same with a Huber norm
        "bm3_sp0.75_huber": {
            "optimizer": "adam",
            "lambda_delete": 0.3,
            "delete_baseline": "mean",
            "lambda_sparse": 0.75,
            "smooth_norm": "huber",
        },
        "bm3_sp0.75": {"optimizer": "adam", "lambda_delete": 0.3, "delete_baseline": "mean", "lambda_sparse": 0.75},
    }
)


# round 11 (this session), over the current defaults ("d_" variants): iterate averaging of
# the mask over the last steps, and the sparsity/deletion balance around the defaults.
VARIANTS.update(
    {
        "d_avg0.5": {"average_last": 0.5},
        "d_avg0.25": {"average_last": 0.25},
        "d_avg0.5_sp1": {"average_last": 0.5, "lambda_sparse": 1.0},
        "d_sp0.5": {"lambda_sparse": 0.5},
        "d_del0.5": {"lambda_delete": 0.5},
        "d_del0.5_avg0.5": {"lambda_delete": 0.5, "average_last": 0.5},
        "d_sm0.1": {"lambda_smooth": 0.1},
    }
)

# round 12 (issue 16), over the current defaults: fewer steps with a larger, decaying
# learning rate (cosine), the deletion game every k-th step, a darker start, and the
# contrastive term for two-object scenes. "s60" = 60 steps, "lr0.5" = first rate,
# "de2" = deletion game every 2nd step, "c1" = lambda_contrast 1.
_C = {"lr_schedule": "cosine"}
VARIANTS.update(
    {
        # the defaults before issue 16, as changes to the current ones
        "d_pre16": {"steps": 200, "lr": 0.1, "lr_schedule": "constant", "delete_every": 1},
        "d_s60_const_lr0.3": {"steps": 60, "lr": 0.3, "delete_every": 1},
        "d_s60_cos_lr0.3": {**_C, "steps": 60, "lr": 0.3, "delete_every": 1},
        "d_s60_cos_lr0.5": {**_C, "steps": 60, "lr": 0.5, "delete_every": 1},
        "d_s60_cos_lr1": {**_C, "steps": 60, "lr": 1.0, "delete_every": 1},
        "d_s40_cos_lr0.5": {**_C, "steps": 40, "lr": 0.5, "delete_every": 1},
        "d_s40_cos_lr1": {**_C, "steps": 40, "lr": 1.0, "delete_every": 1},
        "d_s80_cos_lr0.5_de2": {**_C, "steps": 80, "lr": 0.5, "delete_every": 2},
        "d_s60_cos_lr0.5_init-2": {**_C, "steps": 60, "lr": 0.5, "init": -2.0, "delete_every": 1},
        "d_s100_cos_lr0.3": {**_C, "steps": 100, "lr": 0.3, "delete_every": 1},
        "d_s60_const_lr0.3_de2": {"steps": 60, "lr": 0.3, "delete_every": 2},
        "d_s80_const_lr0.3_de2": {"steps": 80, "lr": 0.3, "delete_every": 2},
        "d_s80_const_lr0.3_de4": {"steps": 80, "lr": 0.3, "delete_every": 4},
        "d_s60_const_lr0.5_de2": {"steps": 60, "lr": 0.5, "delete_every": 2},
        "d_s80_cos_lr0.5_end0.3_de2": {**_C, "steps": 80, "lr": 0.5, "lr_end": 0.3, "delete_every": 2},
        "d_s80_cos_lr0.7_de2": {**_C, "steps": 80, "lr": 0.7, "delete_every": 2},
        "d_s80_cos_lr0.5_de4": {**_C, "steps": 80, "lr": 0.5, "delete_every": 4},
        "d_s100_cos_lr0.5_de4": {**_C, "steps": 100, "lr": 0.5, "delete_every": 4},
        "d_s100_cos_lr0.5_de2": {**_C, "steps": 100, "lr": 0.5, "delete_every": 2},
        "d_s60_const_lr0.3_de3": {"steps": 60, "lr": 0.3, "delete_every": 3},
        "d_s60_const_lr0.4_de3": {"steps": 60, "lr": 0.4, "delete_every": 3},
        "d_s70_const_lr0.3_de3": {"steps": 70, "lr": 0.3, "delete_every": 3},
        "d_s60_const_lr0.35_de2": {"steps": 60, "lr": 0.35, "delete_every": 2},
        "d_s80_const_lr0.25_de4": {"steps": 80, "lr": 0.25, "delete_every": 4},
        "d_s60_const_lr0.3_de2_c1": {"steps": 60, "lr": 0.3, "delete_every": 2, "lambda_contrast": 1.0},
        "d_s60_const_lr0.3_de2_c3": {"steps": 60, "lr": 0.3, "delete_every": 2, "lambda_contrast": 3.0},
    }
)

VARIANTS = {k: v if k == "defaults" or k.startswith("d_") else {**OLD, **v} for k, v in VARIANTS.items()}


def bootstrap(values: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95 % percentile bootstrap interval over images (NaNs dropped)."""
    v = values[~np.isnan(values)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (reps, len(v)))].mean(1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def dev_data(model_name: str, n: int) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    model = neuromask.load_model(model_name, device=DEVICE)
    record = model.extra["record"]
    start = int(record["samples"]) + int(record.get("test_samples", 0)) + DEV_OFFSET
    data = generate(record["dataset"], n, seed=int(record["seed"]), start=start, **record.get("options", {}))
    return model, model.normalize(data.images), data.labels.long(), data.evidence.bool()


def resolve(params: dict[str, Any], size: int) -> dict[str, Any]:
    out = dict(params)
    if "blur_frac" in out:
        out["blur_sigma"] = out.pop("blur_frac") * size
    return out


def run(
    method: str, model: Any, x: torch.Tensor, y: torch.Tensor, params: dict[str, Any]
) -> tuple[torch.Tensor, float]:
    t = time.perf_counter()
    e = neuromask.explain(model, x, target=y, method=method, **params)
    return e.attribution, (time.perf_counter() - t) / len(x)


def score(
    label: str, dataset: str, attr: torch.Tensor, evidence: torch.Tensor, secs: float, rho: torch.Tensor | None
) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": label, "dataset": dataset, "n": len(attr), "s_per_image": round(secs, 3)}
    for name, values in (
        ("energy", energy_pointing_game(attr, evidence)),
        ("auroc", auroc(attr, evidence)),
        ("iou", equal_area_iou(attr, evidence)),
    ) + ((("rho_random", rho),) if rho is not None else ()):
        m, lo, hi = bootstrap(values.numpy().astype(float))
        row[name] = [round(m, 3), round(lo, 3), round(hi, 3)]
    return row


def fmt(row: dict[str, Any]) -> str:
    cells = [
        f"{row[k][0]:.3f} [{row[k][1]:.2f}, {row[k][2]:.2f}]" if k in row else "-"
        for k in ("energy", "auroc", "iou", "rho_random")
    ]
    return f"| {row['variant']} | {row['dataset']} | {row['n']} | " + " | ".join(cells) + f" | {row['s_per_image']} |"


# Development photos: not the benchmark's (chelsea, coffee); each classified with EfficientNet-Lite0.
DEV_PHOTOS = ("rocket", "astronaut", "china", "flower")


def dev_photos(names: tuple[str, ...] = DEV_PHOTOS) -> tuple[Any, torch.Tensor]:
    from skimage import data
    from sklearn.datasets import load_sample_image

    model = neuromask.load_model("efficientnet_lite0", device=DEVICE)
    arrays = [load_sample_image(f"{p}.jpg") if p in ("china", "flower") else getattr(data, p)() for p in names]
    return model, torch.stack([neuromask.preprocess_image(model, a)[0] for a in arrays])


def photo_rows(jobs: list[tuple[str, str, dict[str, Any]]], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Insertion - deletion on the development photos (the benchmark's photo protocol)."""
    from neuromask.metrics.faithfulness import deletion, insertion

    model, x = dev_photos(names)
    with torch.no_grad():
        y = model.module(x.to(DEVICE)).argmax(1).cpu()
    rows = []
    for label, method, params in jobs:
        p = resolve(params, min(x.shape[-2:])) if method == "neuromask" else {}
        attr, secs = run(method, model, x, y, p)
        d = deletion(model.module, x, y, attr, pixels_per_step=224 * 8)
        i = insertion(model.module, x, y, attr, pixels_per_step=224 * 8)
        row: dict[str, Any] = {"variant": label, "dataset": "photos-lite0", "n": len(x), "s_per_image": round(secs, 2)}
        for name, v in (("ins_minus_del", i - d), ("deletion", d), ("insertion", i)):
            m, lo, hi = bootstrap(v.numpy().astype(float))
            row[name] = [round(m, 3), round(lo, 3), round(hi, 3)]
        row["mask_area"] = round(float(attr.mean()), 3)
        print(
            f"| {label} | photos | {len(x)} | "
            + " | ".join(
                f"{row[k][0]:.3f} [{row[k][1]:.2f}, {row[k][2]:.2f}]"
                for k in ("ins_minus_del", "deletion", "insertion")
            )
            + f" | {row['s_per_image']} |",
            flush=True,
        )
        rows.append(row)
    return rows


def composite_rows(
    jobs: list[tuple[str, str, dict[str, Any]]], model_name: str, n: int, kinds: list[str], sanity: bool = False
) -> list[dict[str, Any]]:
    """The development split of the composites (8a's ``composite_scenes``): one object on a
    flat or textured background (localisation), or two objects (own-minus-other mass)."""
    from neuromask.datasets import composite_scenes

    model = neuromask.load_model(model_name, device=DEVICE)
    rows = []
    for kind in kinds:
        objects, background = (2, "flat") if kind == "pairs" else (1, kind)
        c = composite_scenes(model, n, split="dev", objects=objects, background=background)
        x = model.normalize(c.images)
        for label, method, params in jobs:
            p = resolve(params, min(x.shape[-2:])) if method == "neuromask" else {}
            row: dict[str, Any] = {"variant": label, "dataset": f"{model_name}-{kind}", "n": len(x)}
            if objects == 1:
                attr, secs = run(method, model, x, c.labels[:, 0], p)
                rho = None
                if sanity:
                    import dataclasses

                    rand = dataclasses.replace(model, module=randomised_copy(model.module, seed=0))
                    rho = rank_correlation(attr.abs(), run(method, rand, x, c.labels[:, 0], p)[0].abs())
                row.update(score(label, row["dataset"], attr, c.evidence[:, 0], secs, rho))
            else:
                # each object's class in turn, in one batch
                xx = torch.cat([x, x])
                yy = torch.cat([c.labels[:, 0], c.labels[:, 1]])
                own = torch.cat([c.evidence[:, 0], c.evidence[:, 1]])
                other = torch.cat([c.evidence[:, 1], c.evidence[:, 0]])
                attr, secs = run(method, model, xx, yy, p)
                mm = mass_margin(attr, own, other)
                m, lo, hi = bootstrap(mm.numpy().astype(float))
                row.update(
                    {
                        "margin": [round(m, 3), round(lo, 3), round(hi, 3)],
                        "own_above": round(float((mm > 0).float().mean()), 3),
                        "s_per_image": round(secs, 2),
                        "n": len(xx),
                    }
                )
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="*", default=[])
    parser.add_argument("--set", nargs="*", default=[], help="ad-hoc variant: label key=value ... (JSON values)")
    parser.add_argument(
        "--methods", nargs="*", default=[], help="other methods at their defaults (pixel options scaled)"
    )
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--sanity", action="store_true", help="also the rank correlation with the randomised model")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--photos", action="store_true", help="insertion - deletion on the development photos instead")
    parser.add_argument(
        "--composites", nargs="*", choices=("flat", "texture", "pairs"), help="the composites' dev split instead"
    )
    parser.add_argument("--model", default="efficientnet_lite0", help="the real model for --composites")
    parser.add_argument("--photo-names", nargs="+", default=list(DEV_PHOTOS), choices=DEV_PHOTOS)
    parser.add_argument("--device", default="cpu", help="where the models run (cpu, cuda)")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))

    jobs: list[tuple[str, str, dict[str, Any]]] = [(v, "neuromask", VARIANTS[v]) for v in args.variants]
    if args.set:
        label, *pairs = args.set
        jobs.append((label, "neuromask", {k: json.loads(v) for k, v in (p.split("=", 1) for p in pairs)}))
    jobs += [(m, m, {}) for m in args.methods]
    if args.composites:
        for row in composite_rows(jobs, args.model, args.n, args.composites, args.sanity):
            if args.json:
                with args.json.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
        return
    if args.photos:
        print("| variant | photos | n | insertion - deletion | deletion | insertion | s/image |")
        print("|---|---|---:|---|---|---|---:|")
        for row in photo_rows(jobs, tuple(args.photo_names)):
            if args.json:
                with args.json.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
        return
    print("| variant | dataset | n | energy | AUROC | equal-area IoU | rho(trained, random) | s/image |")
    print("|---|---|---:|---|---|---|---|---:|")
    for dataset in args.datasets:
        model, x, y, ev = dev_data(dataset, args.n)
        size = min(x.shape[-2:])
        rand = randomised_copy(model.module, seed=0) if args.sanity else None
        for label, method, params in jobs:
            p = (
                resolve(params, size)
                if method == "neuromask"
                else neuromask.method_info(method).scaled_options((x.shape[-2], x.shape[-1]))
            )
            attr, secs = run(method, model, x, y, p)
            rho = None
            if rand is not None:
                import dataclasses

                attr_r, _ = run(method, dataclasses.replace(model, module=rand), x, y, p)
                rho = rank_correlation(attr.abs(), attr_r.abs())
            row = score(label, dataset, attr, ev, secs, rho)
            row["params"] = p
            print(fmt(row), flush=True)
            if args.json:
                with args.json.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
