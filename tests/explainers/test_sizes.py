"""Every registered method on every image size a small CNN accepts, from 8x8 to 512x384, in
both orientations, with the settings the registry gives for that size (its ``fast`` preset
and its pixel-sized options scaled, ``fast_options``). Nothing here is a table of methods."""

from __future__ import annotations

import pytest
import torch

import neuromask
from explainers._fixtures import fast_options, one_thread  # noqa: F401 - autouse fixture
from neuromask.models.small import SmallCNN

# (H, W): the smallest size the CNN accepts (three 2x2 poolings), odd sides, both
# orientations, and a photo-sized image.
SMALL = [(8, 8), (8, 13), (13, 8), (32, 40), (41, 30)]
LARGE = [(512, 384)]  # the other orientation: (8, 13) / (13, 8) and (32, 40) / (41, 30)


@pytest.fixture(scope="module")
def small_cnn() -> torch.nn.Module:
    """The shipped models' architecture (SmallCNN) at width 2 with RGB inputs, seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return SmallCNN(num_classes=3, in_channels=3, width=2).eval()


def _check(method: str, model: torch.nn.Module, size: tuple[int, int]) -> None:
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    e = neuromask.explain(model, x, method=method, **fast_options(method, size))
    assert e.attribution.shape == (1, *size)
    assert torch.isfinite(e.attribution).all()
    if neuromask.method_info(method).is_mask:
        assert e.attribution.min() >= 0 and e.attribution.max() <= 1


@pytest.mark.parametrize("size", SMALL, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("method", neuromask.methods(available=True))
def test_every_method_on_small_images(method: str, size: tuple[int, int], small_cnn: torch.nn.Module) -> None:
    _check(method, small_cnn, size)


@pytest.mark.slow
@pytest.mark.parametrize("size", LARGE, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("method", neuromask.methods(available=True))
def test_every_method_on_large_images(method: str, size: tuple[int, int], small_cnn: torch.nn.Module) -> None:
    _check(method, small_cnn, size)


def test_scaled_options_at_8x8_stay_usable() -> None:
    """At 8x8 the pixel-sized options shrink, but every integer stays at least 1 pixel."""
    for method in neuromask.methods():
        for name, value in neuromask.method_info(method).scaled_options((8, 8)).items():
            assert value > 0, (method, name, value)
    assert neuromask.method_info("occlusion").scaled_options((8, 8)) == {"window": 1, "stride": 1}


def test_lime_falls_back_to_a_grid_where_slic_finds_one_segment() -> None:
    from neuromask.explainers.lime import grid_segments

    model = SmallCNN(num_classes=3, in_channels=3, width=2).eval()
    # On colour noise, SLIC at its default compactness returns a single segment.
    noise = torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    e = neuromask.explain(model, noise, method="lime", **fast_options("lime", (32, 40)))
    assert bool(e.extras["grid"][0])
    labels = e.extras["superpixels"][0]
    assert torch.equal(labels, grid_segments(32, 40, 50))
    assert labels.unique().numel() >= 40  # about `segments` (50) cells, shaped like the image


def test_grid_segments_cover_the_image_in_equal_cells() -> None:
    from neuromask.explainers.lime import grid_segments

    labels = grid_segments(8, 12, 6)  # 2 rows x 3 columns of 4x4 cells
    assert labels.unique().tolist() == list(range(6))
    assert torch.equal(torch.bincount(labels.flatten()), torch.full((6,), 16))
    assert grid_segments(2, 2, 1).unique().numel() == 2  # never a single segment


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", neuromask.methods(available=True))
def test_every_method_on_cuda_agrees_with_the_cpu(method: str, small_cnn: torch.nn.Module) -> None:
    """On a GPU every method returns a CPU map of the input's size that agrees with the
    CPU's: every method draws its random numbers from a seeded CPU generator. Compared by
    rank correlation, so that rounding in near-ties does not count; a constant map
    (``center``, no ranking) must be equal."""
    from neuromask.metrics.sanity import rank_correlation

    size = (32, 40)
    x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(0))
    options = fast_options(method, size)
    cpu = neuromask.explain(small_cnn, x, method=method, **options).attribution
    gpu_model = SmallCNN(num_classes=3, in_channels=3, width=2).cuda().eval()
    gpu_model.load_state_dict(small_cnn.state_dict())
    gpu = neuromask.explain(gpu_model, x.cuda(), method=method, **options).attribution
    assert gpu.device.type == "cpu" and gpu.shape == (2, *size) and torch.isfinite(gpu).all()
    rho = rank_correlation(cpu, gpu)
    constant = torch.isnan(rho)
    assert (rho[~constant] > 0.9).all(), (method, rho)
    assert torch.allclose(cpu[constant], gpu[constant], atol=1e-5), method
