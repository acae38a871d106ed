"""``neuromask models``: the built-in models and the specs the loader understands."""

from __future__ import annotations

import argparse

SPECS = """\
Other specs:
  torchvision:NAME              a torchvision model with its default weights (extra: vision)
  timm:NAME                     a timm model, pretrained (extra: timm)
  FILE.onnx                     an ONNX model, converted to PyTorch (extra: onnx)
  FILE.pt / FILE.ts             a TorchScript file
  FILE.pt@package.module:Class  a state dict for Class() (see the README)"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="list the built-in models and the model specs")
    p.add_argument("--labels", metavar="MODEL", default=None, help="print the class labels of MODEL, one per line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models import list_models, load_model

    if args.labels:
        model = load_model(args.labels)
        for i, name in enumerate(model.labels or []):
            print(f"{i}\t{name}")
        return 0
    print("Built-in models:")
    for name, description in list_models():
        print(f"  {name:28s}  {description}")
    print(SPECS)
    return 0
