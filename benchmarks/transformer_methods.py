"""Every registered method on vision transformers: explained, or refused with the reason.

The models are loaded as a user loads them: ``timm:vit_tiny_patch16_224`` and
``timm:swin_tiny_patch4_window7_224`` from local checkpoints (``weights=FILE``; this
machine has no hub access, so the checkpoints hold timm's random initialisation, written
here first), a Hugging Face ViT from a ``save_pretrained`` folder (``hf:DIR``, a small
configuration built here), and the shipped ``triangles_squares-vit`` when its weights are
there. Each method explains scikit-image's ``chelsea`` photo (a dataset image for the
shipped model) with its ``fast`` preset where it has one: the question is whether it
explains the model, not how well (random weights have nothing to explain) or how fast.

Writes ``benchmarks/results/transformer_methods.md`` and ``.json``. Needs the extras (timm,
transformers): ``.venv-extras/bin/python benchmarks/transformer_methods.py``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

import neuromask
from neuromask import datasets
from neuromask.errors import UnsupportedModelError

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def timm_model(name: str, folder: Path) -> neuromask.LoadedModel:
    import timm

    torch.manual_seed(0)
    path = folder / f"{name}.pth"
    torch.save(timm.create_model(name, pretrained=False).state_dict(), path)
    return neuromask.load_model(f"timm:{name}", weights=path)


def hf_model(folder: Path) -> neuromask.LoadedModel:
    import transformers

    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=224, patch_size=16, num_hidden_layers=4, hidden_size=96, num_attention_heads=4, intermediate_size=192
    )
    transformers.ViTForImageClassification(config).save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": 224, "width": 224}).save_pretrained(folder)
    return neuromask.load_model(f"hf:{folder}")


def run(model: neuromask.LoadedModel, inputs: torch.Tensor) -> dict[str, dict[str, object]]:
    rows = {}
    for method in neuromask.methods():
        info = neuromask.method_info(method)
        options = {"preset": "fast"} if "fast" in info.presets else {}
        started = time.perf_counter()
        try:
            e = neuromask.explain(model, inputs, method=method, **options)
        except UnsupportedModelError as exc:
            rows[method] = {"status": "refused", "reason": str(exc)}
        else:
            finite = bool(torch.isfinite(e.attribution).all())
            row: dict[str, object] = {"status": "explained" if finite else "NOT FINITE"}
            row["seconds"] = round(time.perf_counter() - started, 2)
            if method == "gradcam":
                row["reason"] = f"layer {e.extras['layer']}, {e.extras['grid']}"
            rows[method] = row
        print(model.name, method, rows[method]["status"], flush=True)
    return rows


def main() -> None:
    from skimage import data

    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    load_start = round(os.getloadavg()[0], 2)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = [
            timm_model("vit_tiny_patch16_224", folder),
            timm_model("swin_tiny_patch4_window7_224", folder),
            hf_model(folder / "hf_vit"),
        ]
        photos = [neuromask.preprocess_image(m, data.chelsea())[0] for m in models]
        if "triangles_squares-vit" in dict(neuromask.list_models()):
            shipped = neuromask.load_model("triangles_squares-vit")
            models.append(shipped)
            photos.append(datasets.generate("triangles_squares", 1, seed=0, start=10**9).images[0])
        for model, inputs in zip(models, photos):
            results[model.name.replace(str(folder), "DIR")] = run(model, inputs)
    machine = {**describe(), "load_average_1min_at_start": load_start}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "transformer_methods.json").write_text(json.dumps({"machine": machine, "results": results}, indent=1))
    names = list(results)
    lines = [
        "# Every method on vision transformers",
        "",
        "`python benchmarks/transformer_methods.py` (extras venv): each registered method on one image per model,",
        "`fast` preset where registered. timm models from local checkpoints of random weights (no hub access here),",
        "the Hugging Face ViT a 4-block configuration saved with `save_pretrained`. *explained* = a finite map;",
        "*refused* = `UnsupportedModelError` raised before anything was computed, with its message.",
        "",
        "| method | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for method in neuromask.methods():
        cells = []
        for name in names:
            row = results[name][method]
            if row["status"] == "refused":
                cells.append(f"refused: {row['reason']}")
            elif method == "gradcam":
                cells.append(f"explained ({row['seconds']} s; {row['reason']})")
            else:
                cells.append(f"{row['status']} ({row['seconds']} s)")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()), ""]
    (RESULTS / "transformer_methods.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
