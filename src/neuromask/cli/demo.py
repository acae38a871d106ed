"""``neuromask demo``: explain a real photo with a real pretrained model, offline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="explain a photo shipped with scikit-image with EfficientNet-Lite0")
    p.add_argument("--image", default="chelsea", choices=PHOTOS, help="which scikit-image photo (default chelsea)")
    p.add_argument("--steps", type=int, default=None, help="NeuroMask steps (default: the method's default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from PIL import Image
    from skimage import data

    from ..api import explain, method_options
    from ..images import preprocess_image, to_original_size
    from ..models import load_model
    from ..viz.overlay import save_evolution
    from .._core import atomic_path
    from .common import show_progress, write_result

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
    written = write_result(out, photo, np.asarray(image), attribution, explanation, model, explanation.seconds)
    evolution = out / f"{args.image}.neuromask.evolution.png"
    with atomic_path(evolution) as tmp:  # Ctrl-C leaves no half-written file
        save_evolution(
            tmp,
            model.denormalize(inputs[None])[0].permute(1, 2, 0).clamp(0, 1).numpy(),
            explanation.extras["history"][0].numpy(),
            explanation.extras["history_steps"].tolist(),
        )
    r = written.record
    print(f"model      efficientnet_lite0 (pretrained on ImageNet)")
    print(f"image      {photo}")
    print(f"predicted  {r['label']} (class {r['target']}), p = {r['probability']:.3f}")
    print(f"masked     p = {r['masked_probability']:.3f} with mask mean {r['mask_mean']:.3f}")
    print(f"seconds    {r['seconds']:.1f} for {steps} steps")
    print(f"overlay    {written.png}")
    print(f"evolution  {evolution}")
    print(f"mask       {written.npy}")
    print(f"record     {written.json}")
    return 0
