"""Could Captum's LRP replace Zennit (which declares torchvision)? Measured, not assumed.

Runs both on the shipped ``triangles_squares-cnn`` (conv, batch norm, ReLU, max pool,
global average pool, linear) on 8 dataset images, with a rule set per layer on the Captum
side (Captum's LRP accepts a ``rule`` attribute on each module):

- ``epsilon``: Captum's EpsilonRule on every layer (batch norm as its own layer) against
  Zennit's epsilon composite (batch norm merged into the convolution);
- ``epsilon_plus`` (the method's default): Captum's Alpha1_Beta0_Rule on convolutions
  (its closest rule to z+) against Zennit's EpsilonPlus.

Prints the smallest per-image cosine similarity and the largest difference relative to
the largest relevance. Usage: ``python benchmarks/lrp_route.py``.
"""

from __future__ import annotations

import copy

import torch
from captum.attr import LRP
from captum.attr._utils.lrp_rules import Alpha1_Beta0_Rule, EpsilonRule
from torch import nn

import neuromask


def main() -> None:
    torch.set_num_threads(1)
    model = neuromask.load_model("triangles_squares-cnn")
    x = model.normalize(neuromask.datasets.generate("triangles_squares", 8, seed=0).images.float())
    target = neuromask.explain(model, x, method="center").target
    print("| composite | Captum conv rule | min cosine | max abs diff / max abs relevance |")
    print("|---|---|---:|---:|")
    for composite, conv_rule in (("epsilon", lambda: EpsilonRule(1e-6)), ("epsilon_plus", Alpha1_Beta0_Rule)):
        zennit = neuromask.explain(model, x, target=target, method="lrp_epsilon", composite=composite).attribution
        module = copy.deepcopy(model.module).eval()
        for layer in module.modules():
            if isinstance(layer, nn.Conv2d):
                layer.rule = conv_rule()
            elif isinstance(layer, nn.Linear):
                layer.rule = EpsilonRule(1e-6)
        captum = LRP(module).attribute(x.clone().requires_grad_(True), target=target).sum(1).detach()
        cosine = nn.functional.cosine_similarity(captum.flatten(1), zennit.flatten(1), dim=1).min()
        diff = (captum - zennit).abs().amax() / zennit.abs().amax()
        print(f"| {composite} | {type(conv_rule()).__name__} | {cosine:.4f} | {diff:.2e} |")


if __name__ == "__main__":
    main()
