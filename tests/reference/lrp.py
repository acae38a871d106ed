"""LRP written out element by element, for networks given as a list of dense layers.

Every layer is (W, b) with W (D_out, D_in); a convolution is first turned into its dense
matrix (:func:`dense_matrix`), and a batch norm after it is merged into it by hand. The
rules are the formulas of Bach et al. (2015) and Montavon et al. (2019) as Zennit
defines them:

  epsilon: R_j = sum_k a_j W_kj / (z_k + eps * sign(z_k)) R_k,  z_k = sum_j a_j W_kj + b_k
  zplus:   R_j = sum_k (a_j+ W_kj+ + a_j- W_kj-) / (z_k + eps * sign(z_k)) R_k,
           z_k = sum_j (a_j+ W_kj+ + a_j- W_kj-) + b_k+

with sign(0) = +1, and ReLU passing relevance through unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


def dense_matrix(conv: nn.Conv2d, in_shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The (W, b) of ``conv`` as a dense layer on flattened (C, H, W) inputs."""
    d_in = in_shape[0] * in_shape[1] * in_shape[2]
    basis = torch.eye(d_in, dtype=conv.weight.dtype).view(d_in, *in_shape)
    with torch.no_grad():
        no_bias = nn.functional.conv2d(basis, conv.weight, None, conv.stride, conv.padding)
        out_shape = no_bias.shape[1:]
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels, dtype=conv.weight.dtype)
        b = bias.view(-1, 1, 1).expand(out_shape).flatten()
    return no_bias.reshape(d_in, -1).T.contiguous(), b.clone()


def merge_batch_norm(
    w: torch.Tensor, b: torch.Tensor, bn: nn.BatchNorm2d, spatial: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold an eval-mode batch norm (per channel, ``spatial`` outputs per channel) into (W, b)."""
    scale = (bn.weight / (bn.running_var + bn.eps).sqrt()).repeat_interleave(spatial)
    shift = (bn.bias - bn.running_mean * bn.weight / (bn.running_var + bn.eps).sqrt()).repeat_interleave(spatial)
    return w * scale[:, None], b * scale + shift


def _sign(z: float) -> float:
    return 1.0 if z >= 0 else -1.0


def lrp_literal(
    layers: list[tuple[torch.Tensor, torch.Tensor, str]], x: torch.Tensor, target: int, eps: float
) -> torch.Tensor:
    """Relevance of each input of x (D,) for output ``target``.

    ``layers``: (W, b, rule) with rule "epsilon" or "zplus"; a ReLU follows every layer
    but the last.
    """
    activations = [x.tolist()]
    for i, (w, b, _) in enumerate(layers):
        z = w @ torch.tensor(activations[-1], dtype=w.dtype) + b
        activations.append((z.clamp(min=0) if i < len(layers) - 1 else z).tolist())
    out = activations[-1]
    relevance = [out[k] if k == target else 0.0 for k in range(len(out))]
    for (w, b, rule), a in zip(reversed(layers), reversed(activations[:-1])):
        wl, bl = w.tolist(), b.tolist()
        d_out, d_in = len(wl), len(a)
        contrib = [[0.0] * d_in for _ in range(d_out)]
        z = [0.0] * d_out
        for k in range(d_out):
            for j in range(d_in):
                if rule == "epsilon":
                    c = a[j] * wl[k][j]
                else:
                    c = max(a[j], 0.0) * max(wl[k][j], 0.0) + min(a[j], 0.0) * min(wl[k][j], 0.0)
                contrib[k][j] = c
                z[k] += c
            z[k] += bl[k] if rule == "epsilon" else max(bl[k], 0.0)
        new = [0.0] * d_in
        for j in range(d_in):
            for k in range(d_out):
                new[j] += contrib[k][j] / (z[k] + eps * _sign(z[k])) * relevance[k]
        relevance = new
    return torch.tensor(relevance, dtype=torch.float64)
