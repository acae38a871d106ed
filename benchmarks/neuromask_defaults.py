"""The evidence behind NeuroMask's defaults: variants side by side on real photos.

Each row changes the defaults in one respect (or applies a preset), explains the same
photos with EfficientNet-Lite0, and scores the masks with the deletion and insertion
AUCs of ``neuromask.metrics`` (Petsiuk et al.'s protocol), which judge whether the mask
ranks the right pixels rather than whether the loss went down.

    python benchmarks/neuromask_defaults.py [--photos chelsea coffee rocket]

Writes benchmarks/results/neuromask_defaults.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from skimage import data

sys.path.insert(0, str(Path(__file__).parent))
import neuromask  # noqa: E402
from machine import describe  # noqa: E402
from neuromask.metrics.faithfulness import deletion, insertion  # noqa: E402

RESULTS = Path(__file__).parent / "results"

# (label, overrides of the defaults); every row runs the same number of steps unless it
# is about the number of steps.
VARIANTS: list[tuple[str, dict]] = [
    ("defaults", {}),
    ("baseline zero (the paper's)", {"baseline": "zero"}),
    ("baseline black (the reference code's)", {"baseline": "black"}),
    ("full-resolution W (the paper)", {"mask_size": None}),
    ("lambda_sparse 0.05", {"lambda_sparse": 0.05}),
    ("300 steps", {"steps": 300}),
    ("preset reference, 200 steps", {"preset": "reference", "steps": 200}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", nargs="+", default=["chelsea", "coffee", "rocket"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    model = neuromask.load_model("efficientnet_lite0")
    inputs = torch.stack([neuromask.preprocess_image(model, getattr(data, p)())[0] for p in args.photos])
    rows = []
    for label, overrides in VARIANTS:
        start = time.perf_counter()
        e = neuromask.explain(model, inputs, **overrides)
        seconds = (time.perf_counter() - start) / len(args.photos)
        d = deletion(model.module, inputs, e.target, e.attribution)
        i = insertion(model.module, inputs, e.target, e.attribution)
        rows.append(
            {
                "variant": label,
                "overrides": overrides,
                "deletion": d.mean().item(),
                "insertion": i.mean().item(),
                "ins_minus_del": (i - d).mean().item(),
                "ins_minus_del_per_photo": (i - d).tolist(),
                "mask_mean": e.extras["mask_mean"].mean().item(),
                "masked_probability": e.extras["masked_probability"].mean().item(),
                "seconds_per_image": seconds,
            }
        )
        r = rows[-1]
        print(
            f"{label:40s} ins-del {r['ins_minus_del']:.3f}  mask mean {r['mask_mean']:.3f}  {seconds:.0f} s",
            file=sys.stderr,
        )

    machine = describe()
    lines = [
        f"NeuroMask variants on EfficientNet-Lite0, photos: {', '.join(args.photos)} (means over photos).",
        "Deletion (lower is better) and insertion (higher is better) AUCs, Petsiuk et al.'s protocol.",
        "",
        "| variant | insertion - deletion | deletion | insertion | mask mean | p(target) masked | s / image |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['ins_minus_del']:.3f} | {r['deletion']:.3f} | {r['insertion']:.3f} | "
            f"{r['mask_mean']:.3f} | {r['masked_probability']:.3f} | {r['seconds_per_image']:.1f} |"
        )
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items())]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "neuromask_defaults.md").write_text(table + "\n")
    (args.out / "neuromask_defaults.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
