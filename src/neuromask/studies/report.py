"""The study's report: ``report.md`` and ``report.html`` with the same content, and PNGs.

The report only reads what :func:`neuromask.studies.bnn.run_bnn_study` computed (the
results of every dataset, the findings and the run's metadata); it computes nothing but
the pooled (mean over datasets) summaries of estimates already bootstrapped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..outputs import Page
from ..viz.grid import comparison_grid
from ..viz.intervals import curve_chart, interval_chart
from . import stats

ARCH_NAMES = {"cnn": "FP", "bnn": "BNN"}
BAND_NAMES = {"fp_fp": "FP-FP", "bnn_bnn": "BNN-BNN", "fp_bnn": "FP-BNN"}
MAP_METRICS = (
    "total_variation",
    "high_frequency",
    "all_zero",
    "energy_pointing",
    "auroc",
    "deletion",
    "insertion",
    "randomisation",
)


def fmt(estimate: dict[str, Any] | None, digits: int = 2) -> str:
    """``value [low, high]``, or an em dash where there is nothing."""
    if not estimate or estimate.get("value") is None or math.isnan(float(estimate["value"])):
        return "—"
    lo, hi = estimate["ci95"]
    ci = "" if math.isnan(lo) else f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return f"{float(estimate['value']):.{digits}f}{ci}"


def _triple(e: dict[str, Any]) -> tuple[float, float, float]:
    return float(e["value"]), float(e["ci95"][0]), float(e["ci95"][1])


def _pool(results: list[dict[str, Any]], get: Callable[..., Any]) -> dict[str, Any]:
    parts = [get(r) for r in results]
    parts = [p for p in parts if p is not None]
    return stats.public(stats.pooled(parts)) if parts else {"value": float("nan"), "ci95": [float("nan")] * 2}


def _conclusion(f: dict[str, Any]) -> str:
    verdict = f.get("verdict")
    if f["id"] == 1:
        return (
            f"Saliency maps of an FP model and a BNN correlate at {fmt(f)} (Spearman), against "
            f"{fmt(f['band']['fp_fp'])} between two FP seeds and {fmt(f['band']['bnn_bnn'])} between two BNN "
            f"seeds; the gap to FP-FP is {fmt(f['gap'])}. Verdict: {verdict}."
        )
    if f["id"] == 2:
        return (
            f"The BNN's SmoothGrad maps have {fmt(f)} times the total variation of the FP's. Relative to each "
            f"network's own saliency maps, SmoothGrad changes the BNN's noise {fmt(f['relative'])} times as much "
            f"as the FP's. Verdict: {verdict}."
        )
    if f["id"] == 3:
        zero = f["all_zero_share"]["bnn"]
        worst = max(zero, key=lambda k: zero[k]["value"])
        return (
            f"At the last convolution, Grad-CAM maps of FP and BNN correlate at {fmt(f)} against "
            f"{fmt(f['band']['fp_fp'])} (FP-FP) and {fmt(f['band']['bnn_bnn'])} (BNN-BNN); gap {fmt(f['gap'])}. "
            f"The largest share of all-zero BNN maps is {fmt(zero[worst])} at layer {worst}. Verdict: {verdict}."
        )
    return (
        f"NeuroMask's masks of FP and BNN correlate at {fmt(f)} against {fmt(f['band']['fp_fp'])} (FP-FP) and "
        f"{fmt(f['band']['bnn_bnn'])} (BNN-BNN): {f['standing']}. Energy-based pointing game: FP "
        f"{fmt(f['energy_pointing_game']['cnn'])}, BNN {fmt(f['energy_pointing_game']['bnn'])}."
    )


def write_report(out: Path, meta: dict[str, Any], results: list[dict[str, Any]], summary: dict[str, Any]) -> list[Path]:
    """Write report.md, report.html and the figures into ``out``; return their paths.

    ``summary`` is what findings.json holds (the three findings and NeuroMask's standing)."""
    findings = summary["findings"] + ([summary["neuromask"]] if summary.get("neuromask") else [])
    out = Path(out)
    config = meta["config"]
    methods = meta["methods"]
    doc = Page("Do explanations survive binarization? (BNN vs full precision)")
    doc.paragraph(
        f"Run `{config['name']}`: datasets {', '.join(config['datasets'])}; {config['seeds']} seeds per "
        f"architecture; {config['images']} held-out images per dataset; methods {', '.join(methods)}. "
        f"torch {meta['machine']['torch']}, {meta['machine']['threads']} torch thread(s)."
    )
    doc.items(
        [
            f"{r['dataset']}: {r['timing']['seconds']:.0f} s of wall time, finished {r['timing']['finished']}, load "
            f"average then {r['timing']['load_average']}"
            + (f" ({r['timing']['source']})" if "source" in r["timing"] else "")
            if "timing" in r
            else f"{r['dataset']}: time not recorded"
            for r in results
        ]
    )
    doc.paragraph(
        "Every FP-vs-BNN similarity is read against the similarity of two FP models (FP-FP) and of two BNNs "
        "(BNN-BNN) trained with different seeds; 'gap' is FP-BNN minus FP-FP. Intervals are 95 % "
        "hierarchical-bootstrap intervals (seeds, then images; pooled over datasets as the mean of the "
        "datasets' replicates). Targets are the true labels."
    )
    doc.heading(2, "Findings")
    rows = []
    for f in findings:
        band = f.get("band", {})
        band_text = (
            f"FP-FP {fmt(band['fp_fp'])}; BNN-BNN {fmt(band['bnn_bnn'])}"
            if "fp_fp" in band
            else "per-seed mean TV: "
            + "; ".join(
                f"{ARCH_NAMES[a]} {lo:.3f}–{hi:.3f}" for a, (lo, hi) in band.get("per_seed_mean_tv_range", {}).items()
            )
        )
        rows.append(
            [str(f["id"]), f["finding"], f["statistic"], fmt(f, 3), band_text, f.get("verdict", f.get("standing", ""))]
        )
    doc.table(["#", "finding", "statistic", "value [95 % CI]", "cross-seed band", "verdict"], rows)
    doc.items([_conclusion(f) for f in findings])

    doc.heading(2, "Models")
    doc.table(
        ["dataset", "recipe", "FP test accuracy (per seed)", "BNN test accuracy (per seed)"],
        [
            [
                r["dataset"],
                f"{r['recipe']['samples']} x {r['recipe']['epochs']}",
                ", ".join(f"{a:.3f}" for a in r["accuracy"]["cnn"]),
                ", ".join(f"{a:.3f}" for a in r["accuracy"]["bnn"]),
            ]
            for r in results
        ],
    )

    doc.heading(2, "The maps (seed 0 of each architecture)")
    for r in results:
        maps = r["_maps"]
        shown = min(3, len(maps["images"]))
        images, labels, rows_maps = [], [], []
        for i in range(shown):
            for arch in ("cnn", "bnn"):
                images.append(maps["images"][i])
                labels.append(f"{r['dataset']} #{i} {ARCH_NAMES[arch]}")
                rows_maps.append({m: (maps[f"{arch}/{m}"][i] if f"{arch}/{m}" in maps else None) for m in methods})
        name = f"grid_{r['dataset']}.png"
        comparison_grid(out / name, images, labels, methods, rows_maps, cell=1.3)
        doc.image(name, f"maps on {r['dataset']}")

    doc.heading(2, "Similarity FP vs BNN against the cross-seed bands (pooled over datasets)")
    sim_methods = [m for m in methods if all(m in r["main"]["similarity"] for r in results)]
    rows = []
    for m in sim_methods:
        for name in stats.SIMILARITIES:
            pooled = {
                b: _pool(results, lambda r, b=b: r["main"]["similarity"][m][name][b])
                for b in ("fp_fp", "bnn_bnn", "fp_bnn", "gap")
            }
            rows.append([m, name] + [fmt(pooled[b]) for b in ("fp_fp", "bnn_bnn", "fp_bnn", "gap")])
    doc.table(["method", "similarity", "FP-FP", "BNN-BNN", "FP-BNN", "gap"], rows)
    chart = {
        m: {
            BAND_NAMES[b]: _triple(_pool(results, lambda r, b=b, m=m: r["main"]["similarity"][m]["spearman"][b]))
            for b in BAND_NAMES
        }
        for m in sim_methods
    }
    interval_chart(
        chart, out / "similarity_bands.png", title="Spearman between maps (pooled over datasets)", ylabel="Spearman"
    )
    doc.image("similarity_bands.png", "similarity bands")
    for r in results:
        rows = [
            [m] + [fmt(r["main"]["similarity"][m]["spearman"][b]) for b in ("fp_fp", "bnn_bnn", "fp_bnn", "gap")]
            for m in sim_methods
        ]
        doc.paragraph(f"Spearman on {r['dataset']}:")
        doc.table(["method", "FP-FP", "BNN-BNN", "FP-BNN", "gap"], rows)

    doc.heading(2, "Noise, localisation, faithfulness, sanity (pooled over datasets)")
    doc.paragraph(
        "total_variation and high_frequency (share of spectral power above 0.25 cycles/px): lower = smoother; "
        "all_zero: share of maps that are zero everywhere; energy_pointing and auroc against the evidence masks; "
        "deletion (lower is better) and insertion (higher is better) AUC; randomisation: rank correlation with "
        "the map of a fully randomised model (lower is better)."
    )
    rows = []
    for m in methods:
        for arch in ("cnn", "bnn"):
            if not all(m in r["main"]["metrics"][arch] for r in results):
                continue
            rows.append(
                [m, ARCH_NAMES[arch]]
                + [fmt(_pool(results, lambda r, k=k: r["main"]["metrics"][arch][m].get(k))) for k in MAP_METRICS]
            )
    doc.table(["method", "net"] + list(MAP_METRICS), rows)
    refused = sorted(
        {(arch, m, msg) for r in results for arch, errs in r["main"]["errors"].items() for m, msg in errs.items()}
    )
    if refused:
        doc.paragraph("Refused (no map): " + "; ".join(f"{m} on {ARCH_NAMES[a]}: {msg}" for a, m, msg in refused))

    doc.heading(2, "SmoothGrad: noise level and sample count")
    levels = list(results[0]["smoothgrad"]["noise"])
    rows = []
    for lv in levels:
        rows.append(
            [lv]
            + [
                fmt(_pool(results, lambda r, a=a, k=k: r["smoothgrad"]["noise"][lv][a][k]), 3)
                for a in ("cnn", "bnn")
                for k in ("total_variation", "high_frequency")
            ]
            + [fmt(_pool(results, lambda r: r["smoothgrad"]["noise"][lv]["tv_ratio_bnn_fp"]))]
        )
    doc.table(["noise level", "FP TV", "FP high-freq", "BNN TV", "BNN high-freq", "TV BNN / FP"], rows)
    counts = list(results[0]["smoothgrad"]["convergence"]["cnn"])
    curves = {
        ARCH_NAMES[a]: [
            (float(n), _triple(_pool(results, lambda r, a=a, n=n: r["smoothgrad"]["convergence"][a][n])))
            for n in counts
        ]
        for a in ("cnn", "bnn")
    }
    curve_chart(
        curves,
        out / "smoothgrad_convergence.png",
        title="SmoothGrad: two independent estimates agree",
        xlabel="samples",
        ylabel="Spearman (seed 0 vs seed 1)",
        logx=True,
    )
    doc.paragraph(
        "Convergence: Spearman between two SmoothGrad estimates drawn with different noise seeds, per sample count."
    )
    doc.table(
        ["samples"] + [ARCH_NAMES[a] for a in ("cnn", "bnn")],
        [
            [n]
            + [fmt(_pool(results, lambda r, a=a, n=n: r["smoothgrad"]["convergence"][a][n])) for a in ("cnn", "bnn")]
            for n in counts
        ],
    )
    doc.image("smoothgrad_convergence.png", "SmoothGrad convergence")

    doc.heading(2, "Why: the sign's backward rule swapped at explanation time (BNNs)")
    swap = results[0]["estimator_swap"]
    rules = swap["rules"]
    logits_same = all(r["estimator_swap"]["logits_identical"] for r in results)
    doc.paragraph(
        f"The logits are identical under every rule: {logits_same}. Forward-only methods (kind "
        "'perturbation' in the registry) must come out bit-identical (checked on seed 0); the others move. "
        "ρ to hardtanh: Spearman between the map under the rule and under the training rule (hardtanh); "
        "FP-BNN ρ: the FP-vs-BNN similarity with the BNN's maps under the rule (FP-FP band as in the "
        "similarity table). Optimised masks (kind 'mask') are left out of the swap for cost."
    )
    rows = []
    for m in swap["methods"]:
        ident = all(
            all(r["estimator_swap"]["methods"][m]["bit_identical"].values())
            for r in results
            if m in r["estimator_swap"]["methods"]
        )
        row = [m, "yes" if swap["methods"][m]["forward_only"] else "no", "yes" if ident else "no"]
        row += [
            fmt(_pool(results, lambda r, rule=rule: r["estimator_swap"]["methods"][m]["spearman_to_hardtanh"][rule]))
            for rule in rules
        ]
        row += [
            (
                "—"
                if swap["methods"][m]["forward_only"]
                else fmt(
                    _pool(results, lambda r, rule=rule: r["estimator_swap"]["methods"][m]["fp_bnn"][rule]["fp_bnn"])
                )
            )
            for rule in rules
        ]
        rows.append(row)
    doc.table(
        ["method", "forward-only", "bit-identical"]
        + [f"ρ to hardtanh: {r}" for r in rules]
        + [f"FP-BNN ρ: {r}" for r in rules],
        rows,
    )

    doc.heading(2, "Why: forward-only SmoothGrad (no estimator) against the estimator-based one")
    doc.paragraph(
        "agreement: Spearman(SmoothGrad with 100 samples, forward-only estimate of the smoothed gradient); "
        "self: Spearman of two forward-only estimates with different seeds (its own noise floor)."
    )
    doc.table(
        ["net", "agreement", "self"],
        [
            [
                ARCH_NAMES[a],
                fmt(_pool(results, lambda r, a=a: r["forward_smoothgrad"][a]["agreement"])),
                fmt(_pool(results, lambda r, a=a: r["forward_smoothgrad"][a]["self"])),
            ]
            for a in ("cnn", "bnn")
        ],
    )

    doc.heading(2, "Why: the estimator window's occupancy (share of pre-sign activations with |a| <= 1)")
    occ_levels = list(results[0]["occupancy"])
    n_layers = len(results[0]["occupancy"][occ_levels[0]])
    doc.table(
        ["noise level"] + [f"sign layer {k + 1}" for k in range(n_layers)],
        [
            [lv] + [fmt(_pool(results, lambda r, lv=lv, k=k: r["occupancy"][lv][k])) for k in range(n_layers)]
            for lv in occ_levels
        ],
    )
    curves = {
        f"sign layer {k + 1}": [
            (float(lv), _triple(_pool(results, lambda r, lv=lv, k=k: r["occupancy"][lv][k]))) for lv in occ_levels
        ]
        for k in range(n_layers)
    }
    curve_chart(
        curves,
        out / "window_occupancy.png",
        title="Pre-sign activations inside |a| <= 1",
        xlabel="noise level (fraction of the image range)",
        ylabel="share",
    )
    doc.image("window_occupancy.png", "window occupancy")

    doc.heading(2, "Why: Grad-CAM at every convolution, with the batch-norm mean removed, with -1 padding")
    gl = results[0]["gradcam_layers"]
    doc.paragraph(
        "all_zero: share of all-zero maps; energy_pointing against the evidence; border: share of the map's mass "
        "within 2 px of the border; FP-BNN and gap: Spearman against the cross-seed bands (the padded BNN is "
        "compared with the plain FP). BNN accuracy on the study's images with -1 padding: "
        + ", ".join(
            f"{r['dataset']} {np.mean(r['gradcam_layers']['bnn_pad_minus_one_accuracy_on_images']):.2f} "
            f"(zero padding {np.mean(list(r['gradcam_layers']['bnn_accuracy_on_images'].values())):.2f})"
            for r in results
        )
        + "."
    )
    rows = []
    for depth in range(1, gl["layers"] + 1):
        key = str(depth)
        for variant in gl["variants"]:
            cells = [
                _pool(results, lambda r, k=k: r["gradcam_layers"]["variants"][variant][key][k])
                for k in ("all_zero", "energy_pointing", "border_share")
            ]
            arch, kind = variant.split("/")
            sim = ["", ""]
            if arch == "bnn":
                sim = [
                    fmt(_pool(results, lambda r, b=b: r["gradcam_layers"]["similarity"][kind][key][b]))
                    for b in ("fp_bnn", "gap")
                ]
            rows.append([key, ARCH_NAMES[arch], kind] + [fmt(c) for c in cells] + sim)
    doc.table(["layer", "net", "variant", "all_zero", "energy_pointing", "border", "FP-BNN ρ", "gap"], rows)

    doc.heading(2, "Findings as data")
    doc.paragraph(
        "findings.json holds each of the three findings' statistic, value, ci95, band and verdict, and "
        "NeuroMask's standing; results.json every number above."
    )

    return doc.write(out / "report.md", out / "report.html")
