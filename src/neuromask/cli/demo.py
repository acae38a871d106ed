"""``neuromask demo``: explain a real photo with a real pretrained model, offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")
# Shown beside NeuroMask: the two strongest other methods on the composites' pixel AUROC and
# equal-area IoU in the test-split benchmark (benchmarks/results/benchmark/SUMMARY.md):
# LRP-epsilon on flat backgrounds, Grad-CAM on textures and two-object scenes.
BESIDE = ("lrp_epsilon", "gradcam")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="explain a photo shipped with scikit-image with EfficientNet-Lite0")
    p.add_argument("--image", default="chelsea", choices=PHOTOS, help="which scikit-image photo (default chelsea)")
    p.add_argument("--steps", type=int, default=None, help="NeuroMask steps (default: the method's default)")
    p.add_argument(
        "--beside",
        default=",".join(BESIDE),
        help=f"methods drawn beside NeuroMask in IMAGE.beside.png, comma-separated, '' for none (default {','.join(BESIDE)})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from PIL import Image
    from skimage import data

    from .._core import atomic_path
    from ..api import explain, method_options
    from ..images import preprocess_image, to_original_size
    from ..models import load_model
    from ..outputs import explanation_record, write_image_files
    from ..viz.overlay import save_evolution
    from .common import show_progress

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    photo = out / f"{args.image}.png"
    with atomic_path(photo) as tmp:
        Image.fromarray(getattr(data, args.image)()).convert("RGB").save(tmp)

    model = load_model("efficientnet_lite0")
    image = Image.open(photo).convert("RGB")
    inputs, geometry = preprocess_image(model, image)
    steps = args.steps if args.steps is not None else method_options("neuromask")["steps"]
    params = {"steps": steps, "history_every": max(1, steps // 10), **show_progress("neuromask", args.quiet)}
    explanation = explain(model, inputs, method="neuromask", **params)

    attribution = to_original_size(explanation.attribution[0], geometry)
    record = explanation_record(explanation, 0, image=str(photo), model=model)
    written = write_image_files(out, f"{photo.stem}.neuromask", np.asarray(image), attribution, record)
    evolution = save_evolution(
        out / f"{args.image}.neuromask.evolution.png",
        model.denormalize(inputs[None])[0].permute(1, 2, 0).clamp(0, 1).numpy(),
        explanation.extras["history"][0].numpy(),
        explanation.extras["history_steps"].tolist(),
    )
    beside = _beside(out, args, model, inputs, explanation, geometry, np.asarray(image))
    r = written.record
    print("model      efficientnet_lite0 (pretrained on ImageNet)")
    print(f"image      {photo}")
    print(f"predicted  {r['label']} (class {r['target']}), p = {r['probability']:.3f}")
    print(f"masked     p = {r['masked_probability']:.3f} with mask mean {r['mask_mean']:.3f}")
    print(f"seconds    {r['seconds']:.1f} for {steps} steps")
    print(f"overlay    {written.png}")
    print(f"evolution  {evolution}")
    if beside is not None:
        print(f"beside     {beside}")
    print(f"mask       {written.npy}")
    print(f"record     {written.json}")
    return 0


def _beside(
    out: Path, args: argparse.Namespace, model: Any, inputs: Any, explanation: Any, geometry: Any, picture: np.ndarray
) -> Path | None:
    """NeuroMask's mask next to other methods' maps on the same photo, one row."""
    from ..api import explain, method_info
    from ..images import to_original_size
    from ..viz.grid import comparison_grid

    names = [m for m in args.beside.split(",") if m]
    if args.beside == ",".join(BESIDE):
        # A default method that this install lacks is left out, with the command that adds
        # it; a method the user names is required (exit 2 with that command).
        for name in names:
            if not method_info(name).available:
                print(
                    f"skipped {name} beside neuromask (not installed; add with: {method_info(name).install})",
                    file=sys.stderr,
                )
        names = [m for m in names if method_info(m).available]
    for name in names:
        method_info(name).require()
    if not names:
        return None
    maps = {"neuromask": np.asarray(to_original_size(explanation.attribution[0], geometry))}
    seconds = {"neuromask": explanation.seconds}
    for name in names:
        e = explain(model, inputs, target=explanation.target, method=name)
        maps[name] = np.asarray(to_original_size(e.attribution[0], geometry))
        seconds[name] = e.seconds
    label = f"{model.label(int(explanation.target[0]))}"
    return comparison_grid(
        out / f"{args.image}.beside.png", [picture], [label], ["neuromask", *names], [maps], seconds=seconds, cell=2.6
    )
