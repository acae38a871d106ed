"""Guided backpropagation written out by hand for a tiny conv net.

The network is conv -> ReLU6 -> conv -> ReLU -> global mean -> linear; the backward pass
is spelled out layer by layer, with Springenberg et al.'s rule at each activation: pass
the incoming gradient only where it is positive and where the forward pass let the
signal through (0 < z for ReLU, 0 < z < 6 for ReLU6).
"""

from __future__ import annotations

import torch
from torch import nn


def tiny_relu6_net(seed: int = 0) -> nn.Sequential:
    gen = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU6(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return net.double().eval()


def guided_backprop_literal(net: nn.Sequential, x: torch.Tensor, target: int) -> torch.Tensor:
    """Guided gradient (1, C, H, W) of logit ``target`` for one image x (1, C, H, W)."""
    conv1, _, conv2, _, _, _, linear = net
    with torch.no_grad():
        z1 = conv1(x)
        a1 = z1.clamp(0, 6)
        z2 = conv2(a1)
        a2 = z2.clamp(min=0)
        h, w = a2.shape[-2:]
        # d logit / d pooled = the target's weight row; the mean spreads it evenly.
        g = linear.weight[target].view(1, -1, 1, 1).expand_as(a2) / (h * w)
        g = g * (z2 > 0) * (g > 0)
        g = torch.nn.grad.conv2d_input(a1.shape, conv2.weight, g, padding=1)
        g = g * ((z1 > 0) & (z1 < 6)) * (g > 0)
        return torch.nn.grad.conv2d_input(x.shape, conv1.weight, g, padding=1)
