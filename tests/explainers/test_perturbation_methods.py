"""Known answers for the perturbation methods: a model that looks only at one region."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import neuromask
from explainers._fixtures import one_thread  # noqa: F401 - autouse fixture


class TextureRegion(nn.Module):
    """logit_0 = scale * (mean of x^2 over one region - 1/2), logit_1 = 0.

    On a +-1 checkerboard the region gives logit_0 = scale / 2; hiding it (towards 0),
    blurring it (towards the local mean, 0) or replacing it by its superpixel means
    removes the evidence, whatever the perturbation. Pixels outside never matter.
    """

    def __init__(self, region: tuple[int, int, int, int] = (6, 14, 10, 18), scale: float = 8.0) -> None:
        super().__init__()
        self.region, self.scale = region, scale
        self.conv = nn.Conv2d(3, 3, 1)  # a real layer, so that there are parameters and hooks
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r0, r1, c0, c1 = self.region
        s = self.scale * (self.conv(x)[:, :, r0:r1, c0:c1].square().mean(dim=(1, 2, 3)) - 0.5)
        return torch.stack([s, torch.zeros_like(s)], dim=1)


def checkerboard(size: int = 24) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return (((yy + xx) % 2) * 2 - 1.0).expand(1, 3, size, size).clone()


INSIDE = torch.zeros(24, 24, dtype=torch.bool)
INSIDE[6:14, 10:18] = True

# Small settings for a 24 x 24 image; the region is 64 pixels (11 % of the image).
CASES = {
    "occlusion": dict(window=4, stride=2, output="logit"),
    "rise": dict(masks=400, grid=4),
    "meaningful_perturbation": dict(steps=60, mask_size=12, blur_sigma=2.0),
    "extremal_perturbation": dict(steps=100, areas=(0.11,), step=2, sigma=3.0, max_blur=4.0),
    "lime": dict(samples=100, segments=16, compactness=100.0, baseline="zero"),
}
# What fraction of the 64 highest-attributed pixels must fall inside the region
# (by chance: 11 %); measured 0.67-1.0.
MIN_TOP_INSIDE = {"rise": 0.7, "lime": 0.55, "extremal_perturbation": 0.6}


@pytest.mark.parametrize("method", sorted(CASES))
def test_perturbation_method_highlights_the_region(method: str) -> None:
    e = neuromask.explain(TextureRegion(), checkerboard(), target=0, method=method, **CASES[method])
    a = e.attribution[0]
    top = a.flatten().topk(int(INSIDE.sum())).indices
    assert INSIDE.flatten()[top].float().mean() >= MIN_TOP_INSIDE.get(method, 0.9)
    assert a[INSIDE].mean() > a[~INSIDE].mean() + 0.1 * (a.max() - a.min())


def test_occlusion_is_exactly_zero_where_no_window_touches_the_region() -> None:
    a = neuromask.explain(
        TextureRegion(), checkerboard(), target=0, method="occlusion", **CASES["occlusion"]
    ).attribution[0]
    far = torch.ones(24, 24, dtype=torch.bool)
    far[6 - 4 : 14 + 4, 10 - 4 : 18 + 4] = False  # a window of 4 touching the region starts within 3 px
    assert torch.equal(a[far], torch.zeros_like(a[far]))
    assert (a[INSIDE] > 0).all()


def test_meaningful_perturbation_deletes_the_evidence() -> None:
    e = neuromask.explain(
        TextureRegion(), checkerboard(), target=0, method="meaningful_perturbation", **CASES["meaningful_perturbation"]
    )
    assert e.extras["masked_probability"][0] < 0.1 < e.probability[0]


def test_extremal_perturbation_keeps_about_the_asked_area() -> None:
    e = neuromask.explain(
        TextureRegion(), checkerboard(), target=0, method="extremal_perturbation", **CASES["extremal_perturbation"]
    )
    area = float((e.extras["masks"] > 0.5).float().mean())
    assert 0.05 < area < 0.25


@pytest.mark.parametrize("method", ["rise", "lime"])
def test_seeded_methods_are_deterministic_and_seed_dependent(method: str) -> None:
    def run(seed: int) -> torch.Tensor:
        return neuromask.explain(
            TextureRegion(), checkerboard(), target=0, method=method, seed=seed, **CASES[method]
        ).attribution

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))
