"""Why the model-randomisation check cannot pass on flat backgrounds: the randomised
network's own insertion and deletion curves, every method side by side.

On the composites' test split (``--split dev``: the tuning split) for EfficientNet-Lite0,
one object pasted on a flat or a textured background, each method explains each scene
for the trained network and for the same network with every parameter layer re-drawn (Adebayo et al.'s full
randomisation, ``randomised_copy(seed=0)``), same options and target. Per method:

- ``rho``: Spearman's rank correlation between the two maps over all pixels (the check;
  goal below 0.3);
- ``rho near object``: the same over the pixels within ``NEAR`` px of the object only,
  i.e. without the flat background that no perturbation can tell apart;
- the **randomised** network's own deletion and insertion curves for its own map, for
  the trained network's map, for the object's true outline (object pixels first) and for
  the object's complement first (background first). A randomised network gives every
  class a probability near 0, so Petsiuk et al.'s curves of the target's probability are
  flat at 0; these curves follow its whole output instead: deletion, the distance of its
  logits (L,) from their value on the image, as a fraction of the distance once every
  pixel is deleted (set to 0, as ``neuromask.metrics.deletion`` does), after each step
  (area: higher = the map deletes first what moves the network); insertion, 1 minus that
  fraction, pixels copied into a blurred copy (sigma 5) (area: higher = the map
  restores first what moves it back). If deleting the object moves the randomised
  network's output and deleting the background does not, then any map that is faithful
  to the randomised network points at the object too, and a high ``rho`` is the scene's
  doing, not the method's.

    python benchmarks/neuromask_randomisation.py [--n 12] [--split test] [--methods neuromask gradcam ...]

Prints a Markdown table and writes benchmarks/results/neuromask_randomisation.{md,json}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

sys.path.insert(0, str(Path(__file__).parent))
import neuromask  # noqa: E402
from machine import describe  # noqa: E402
from neuromask.datasets import composite_scenes  # noqa: E402
from neuromask.metrics.sanity import randomised_copy, rank_correlation  # noqa: E402
from neuromask_tuning import bootstrap  # noqa: E402

RESULTS = Path(__file__).parent / "results"
METHODS = ("neuromask", "gradcam", "saliency", "integrated_gradients", "guided_backprop", "lrp_epsilon")
# The surround kept by "rho near object": the object dilated by this many pixels at 224 px.
NEAR = 16
# Deletion and insertion in 28 steps of 8 rows' worth of pixels (the tuning script's photo protocol).
PIXELS_PER_STEP = 224 * 8


def near_object(evidence: torch.Tensor, radius: int) -> torch.Tensor:
    """The object (N, H, W) bool dilated by ``radius`` pixels (a square max-pool)."""
    return F.max_pool2d(evidence[:, None].float(), 2 * radius + 1, stride=1, padding=radius)[:, 0] > 0


def masked_correlation(a: torch.Tensor, b: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Spearman's correlation (N,) of a and b (N, H, W) over the pixels where ``keep``."""
    return torch.stack([rank_correlation(x[k][None, None], y[k][None, None])[0] for x, y, k in zip(a, b, keep)])


def _moved(module: torch.nn.Module, x: torch.Tensor, attr: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """(N, K + 1): how far the logits are from their value on x, as a fraction of their
    distance on ``start``, when the pixels are copied from ``start`` into x in the
    order of ``attr`` (most relevant first), PIXELS_PER_STEP at a time."""
    n, _, h, w = x.shape
    rank = attr.flatten(1).argsort(dim=1, descending=True, stable=True).argsort(dim=1).view(n, 1, h, w)
    counts = list(range(0, h * w, PIXELS_PER_STEP)) + [h * w]
    out = []
    with torch.no_grad():
        z0 = module(x)
        full = (module(start) - z0).norm(dim=1)
        for i in range(n):
            batch = torch.stack([torch.where(rank[i] < c, start[i], x[i]) for c in counts])
            out.append((module(batch) - z0[i]).norm(dim=1) / full[i])
    return torch.stack(out)


def blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """x (N, C, H, W) blurred over H and W with a Gaussian of ``sigma`` pixels (SciPy's filter,
    reflecting at the border; the library's own blur is private to it)."""
    return torch.from_numpy(gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="reflect"))


def curves(module: torch.nn.Module, x: torch.Tensor, attr: torch.Tensor) -> dict[str, torch.Tensor]:
    """Areas (N,) under the randomised network's deletion and insertion curves (see the module's docstring)."""
    deleted = _moved(module, x, attr, torch.zeros_like(x))
    inserted = _moved(module, blurred(x, 5.0), attr, x)
    step = 1 / (deleted.shape[1] - 1)
    d, i = torch.trapezoid(deleted, dx=step, dim=1), torch.trapezoid(inserted, dx=step, dim=1)
    return {"deletion": d, "insertion": i}


def summary(values: torch.Tensor) -> list[float]:
    return [round(v, 3) for v in bootstrap(values.numpy().astype(float))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--backgrounds", nargs="+", default=["flat", "texture"], choices=("flat", "texture"))
    parser.add_argument("--split", default="test", choices=("dev", "test"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    load_before = os.getloadavg()[0]

    model = neuromask.load_model("efficientnet_lite0")
    rand = dataclasses.replace(model, module=randomised_copy(model.module, seed=0))
    rows: list[dict[str, Any]] = []
    for background in args.backgrounds:
        c = composite_scenes(model, args.n, split=args.split, objects=1, background=background)
        x, y, evidence = model.normalize(c.images), c.labels[:, 0], c.evidence[:, 0]
        near = near_object(evidence, NEAR)
        group = f"lite0-{background} ({args.split})"
        # The randomised network's curves for the object's outline and for its complement.
        reference = {
            "object first": curves(rand.module, x, evidence.float()),
            "background first": curves(rand.module, x, (~evidence).float()),
        }
        for name, res in reference.items():
            rows.append({"group": group, "method": name, "n": len(x), **{k: summary(v) for k, v in res.items()}})
            print(json.dumps(rows[-1]), flush=True)
        for method in args.methods:
            trained = neuromask.explain(model, x, target=y, method=method).attribution.abs()
            randomised = neuromask.explain(rand, x, target=y, method=method).attribution.abs()
            own = curves(rand.module, x, randomised)
            row = {
                "group": group,
                "method": method,
                "n": len(x),
                "rho": summary(rank_correlation(trained, randomised)),
                "rho_near_object": summary(masked_correlation(trained, randomised, near)),
                "near_fraction": round(float(near.float().mean()), 3),
                **{k: summary(v) for k, v in own.items()},
                **{f"trained_{k}": summary(v) for k, v in curves(rand.module, x, trained).items()},
            }
            rows.append(row)
            print(json.dumps(row), flush=True)

    machine = describe()
    machine["load_average_1min_before"] = round(load_before, 2)

    def cell(row: dict[str, Any], key: str) -> str:
        if key not in row:
            return "-"
        m, lo, hi = row[key]
        return f"{m:.3f} [{lo:.2f}, {hi:.2f}]"

    lines = [
        "The model-randomisation check on the composites' " + args.split + " split (EfficientNet-Lite0, "
        f"{args.n} scenes per background): rho = Spearman's correlation between the map for the trained "
        "and for the fully randomised network; 'near object' keeps only the pixels within "
        f"{NEAR} px of the object. The randomised network's deletion / insertion areas: how far its logits "
        "move, as a fraction of the whole way, while pixels are deleted (set to 0) / inserted (into a blurred "
        "copy) in the order of its own map or of the trained network's map ('object first' and 'background "
        "first' rank the object's true pixels first or last); higher = the order finds first what the randomised "
        "network responds to. Means with 95 % bootstrap intervals over the scenes.",
        "",
        "| group | method | rho | rho near object | randomised net, own map: deletion | insertion |"
        " trained map on the randomised net: deletion | insertion |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['group']} | {r['method']} | {cell(r, 'rho')} | {cell(r, 'rho_near_object')} | "
            f"{cell(r, 'deletion')} | {cell(r, 'insertion')} | {cell(r, 'trained_deletion')} | "
            f"{cell(r, 'trained_insertion')} |"
        )
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items())]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "neuromask_randomisation.md").write_text(table + "\n")
    (args.out / "neuromask_randomisation.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
