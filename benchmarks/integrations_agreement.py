"""Agreement of the Captum and Quantus integrations with the library's own maps and metrics.

On held-out images of each known-answer dataset, with its shipped CNN and NeuroMask at
``--steps`` steps (default: the method's own default):

- Quantus: each metric scores NeuroMask through
  ``neuromask.integrations.quantus.explain_func`` (Quantus computes the maps itself, at its
  default ``abs`` / ``normalise`` settings), and the library's own metric of the same
  definition scores ``neuromask.explain``'s maps. Pairs: RelevanceMassAccuracy and
  ``energy_pointing_game``, AUC and ``auroc``, PointingGame and ``pointing_game`` (zero
  tolerance), RegionPerturbation and ``region_perturbation_curve`` (patches of 4 px,
  perturbed to 0). Printed: the number of images, both means, and the largest absolute
  difference per image.
- Captum: ``NeuroMask(model).attribute`` against ``neuromask.explain`` (every channel),
  and ``NoiseTunnel(NeuroMask(model))`` against the average of ``neuromask.explain`` over
  the same noisy copies (regenerated from the same seed).

    python benchmarks/integrations_agreement.py [--images 32] [--steps N]

Prints Markdown and writes benchmarks/results/integrations_agreement.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from captum.attr import NoiseTunnel

sys.path.insert(0, str(Path(__file__).parent))
import neuromask  # noqa: E402
from machine import describe  # noqa: E402
from neuromask.datasets import generate  # noqa: E402
from neuromask.integrations.captum import NeuroMask  # noqa: E402
from neuromask.integrations.quantus import explain_func  # noqa: E402
from neuromask.metrics import faithfulness, localisation  # noqa: E402

RESULTS = Path(__file__).parent / "results"
MODELS = ("triangles_squares-cnn", "counting-cnn", "shapes_on_texture-cnn")
PATCH, REGIONS = 4, 10


def import_quantus() -> ModuleType:
    """Quantus, imported with Zennit hidden: Quantus imports Zennit when it is installed,
    and Zennit's import needs torchvision, which the core environment leaves out."""
    hidden = "zennit" not in sys.modules
    if hidden:
        sys.modules["zennit"] = None  # type: ignore[assignment]
    try:
        import quantus
    finally:
        if hidden:
            del sys.modules["zennit"]
    return quantus


def held_out(model: neuromask.LoadedModel, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first ``n`` images after the model's training and test samples (as the benchmark)."""
    record = model.extra["record"]
    start = int(record["samples"]) + int(record.get("test_samples", 0))
    data = generate(record["dataset"], n, seed=int(record["seed"]), start=start, **record.get("options", {}))
    return model.normalize(data.images), data.labels, data.evidence


def quantus_rows(quantus: ModuleType, name: str, n: int, steps: int) -> list[dict[str, Any]]:
    model = neuromask.load_model(name)
    x, y, evidence = held_out(model, n)
    options = {"method": "neuromask", "steps": steps}
    maps = neuromask.explain(model, x, target=y, **options).attribution
    batch = {
        "x_batch": x.numpy(),
        "y_batch": y.numpy(),
        "s_batch": evidence.numpy()[:, None].astype(np.float32),
        "explain_func": explain_func,
        "explain_func_kwargs": options,
    }
    pairs = [
        ("RelevanceMassAccuracy", "energy_pointing_game", localisation.energy_pointing_game(maps, evidence), {}),
        ("AUC", "auroc", localisation.auroc(maps, evidence), {}),
        ("PointingGame", "pointing_game (tolerance 0)", localisation.pointing_game(maps, evidence, tolerance=0), {}),
        (
            "RegionPerturbation",
            "region_perturbation_curve",
            faithfulness.region_perturbation_curve(
                model.module, x, y, maps, patch_size=PATCH, regions=REGIONS, perturbation=0.0
            )[:, 1:],
            {"patch_size": PATCH, "regions_evaluation": REGIONS, "perturb_baseline": 0.0},
        ),
    ]
    rows = []
    for theirs_name, ours_name, ours, kwargs in pairs:
        metric = getattr(quantus, theirs_name)(disable_warnings=True, display_progressbar=False, **kwargs)
        theirs = np.asarray(metric(model=model.module, softmax=True, device="cpu", **batch), dtype=np.float64)
        ours_np = ours.double().numpy().reshape(theirs.shape)
        rows.append(
            {
                "model": name,
                "quantus": theirs_name,
                "neuromask": ours_name,
                "images": n,
                "mean_quantus": float(theirs.mean()),
                "mean_neuromask": float(ours_np.mean()),
                "max_abs_difference": float(np.abs(theirs - ours_np).max()),
            }
        )
    return rows


def captum_rows(steps: int, samples: int = 4, stdev: float = 0.1) -> list[dict[str, Any]]:
    model = neuromask.load_model("efficientnet_lite0")
    from skimage import data

    x = torch.stack([neuromask.preprocess_image(model, image)[0] for image in (data.chelsea(), data.coffee())])
    target = neuromask.explain(model, x, method="center").target
    rows = []
    attr = NeuroMask(model.module).attribute(x, target=target, steps=steps)
    maps = neuromask.explain(model.module, x, target=target, steps=steps).attribution
    rows.append(
        {
            "captum": "NeuroMask(model).attribute",
            "neuromask": "explain(...).attribution, every channel",
            "images": len(x),
            "max_abs_difference": float((attr - maps[:, None]).abs().max()),
        }
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        smooth = NoiseTunnel(NeuroMask(model.module)).attribute(
            x, nt_samples=samples, stdevs=stdev, target=target, steps=steps
        )
        torch.manual_seed(0)
        noise = torch.normal(0, torch.tensor(stdev).repeat((len(x) * samples, *x.shape[1:])))
    noisy = x.repeat_interleave(samples, dim=0) + noise
    average = (
        neuromask.explain(model.module, noisy, target=target.repeat_interleave(samples), steps=steps)
        .attribution.view(len(x), samples, *x.shape[2:])
        .mean(dim=1)
    )
    rows.append(
        {
            "captum": f"NoiseTunnel(NeuroMask(model)), {samples} noisy copies, stdev {stdev}",
            "neuromask": "mean of explain() over the same copies",
            "images": len(x),
            "max_abs_difference": float((smooth - average[:, None]).abs().max()),
        }
    )
    return rows


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# The Captum and Quantus integrations against the library's own maps and metrics",
        "",
        f"`python benchmarks/integrations_agreement.py --images {result['images']} --steps {result['steps']}`"
        f" ({result['seconds']:.0f} s; machine: {result['machine']['cpu']}, {result['machine']['cores']} cores,"
        f" load average {result['machine']['load_average_1min']}).",
        "",
        "## Quantus metrics scoring NeuroMask through `explain_func`, against neuromask.metrics on `explain()`",
        "",
        f"NeuroMask at {result['steps']} steps; held-out images of each dataset, its shipped CNN. Quantus at its",
        "default `abs` and `normalise` (neither changes these scores for a mask in [0, 1]).",
        "",
        "| model | Quantus metric | neuromask metric | images | mean (Quantus) | mean (neuromask) | max abs difference |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in result["quantus"]:
        lines.append(
            f"| {r['model']} | {r['quantus']} | {r['neuromask']} | {r['images']} | {r['mean_quantus']:.4f} "
            f"| {r['mean_neuromask']:.4f} | {r['max_abs_difference']:.2g} |"
        )
    lines += [
        "",
        "RegionPerturbation: the curve's 10 points per image (MoRF, patches of 4 px set to 0).",
        "",
        "## Captum, EfficientNet-Lite0 on two photos (chelsea, coffee)",
        "",
        "| Captum | neuromask | images | max abs difference |",
        "|---|---|---:|---:|",
    ]
    for r in result["captum"]:
        lines.append(f"| {r['captum']} | {r['neuromask']} | {r['images']} | {r['max_abs_difference']:.2g} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="held-out images per dataset")
    parser.add_argument("--steps", type=int, default=None, help="NeuroMask's steps (default: its own)")
    parser.add_argument("--captum-steps", type=int, default=20, help="NeuroMask's steps on EfficientNet-Lite0")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    quantus = import_quantus()
    steps = neuromask.method_options("neuromask")["steps"] if args.steps is None else args.steps
    result: dict[str, Any] = {"images": args.images, "steps": steps, "machine": describe()}
    result["quantus"] = [row for name in MODELS for row in quantus_rows(quantus, name, args.images, steps)]
    result["captum"] = captum_rows(args.captum_steps)
    result["seconds"] = time.perf_counter() - start
    text = markdown(result)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "integrations_agreement.md").write_text(text)
        (RESULTS / "integrations_agreement.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
