"""neuromask.integrations.captum: every registered method as a Captum Attribution, checked
against neuromask.explain (the same maps), inside Captum's own code (NoiseTunnel, with a
literal re-implementation of its averaging as the oracle; sensitivity_max, with the known
answer 0 for a map that ignores the input), and with Captum's forms of its arguments."""

from __future__ import annotations

import pytest
import torch
from captum.attr import Attribution, NoiseTunnel
from captum.metrics import sensitivity_max
from torch import nn

import neuromask
from explainers._fixtures import fast_options, one_thread  # noqa: F401 - autouse fixture
from helpers import assert_same_state, model_state
from neuromask.errors import InputError, TargetError, UnknownNameError
from neuromask.integrations.captum import MethodAttribution, NeuroMask, attribution

METHODS = neuromask.methods(available=True)
SIZE = (16, 16)


def _inputs(n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, *SIZE, generator=torch.Generator().manual_seed(seed))


def test_neuromask_is_the_class_of_its_method() -> None:
    assert attribution("neuromask") is NeuroMask
    assert NeuroMask.method == "neuromask"
    assert issubclass(NeuroMask, Attribution)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_explains_map_repeated_over_the_channels(method: str, tiny_cnn: nn.Module) -> None:
    cls = attribution(method)
    assert issubclass(cls, MethodAttribution) and issubclass(cls, Attribution)
    assert cls.method == method and attribution(method) is cls
    x = _inputs()
    options = fast_options(method, SIZE)
    attr = cls(tiny_cnn)
    out = attr.attribute(x, target=[1, 3], **options)
    assert not attr.has_convergence_delta()
    assert isinstance(out, torch.Tensor) and out.shape == x.shape and out.dtype == x.dtype
    expected = neuromask.explain(tiny_cnn, x, target=[1, 3], method=method, **options).attribution
    for c in range(x.shape[1]):
        assert torch.equal(out[:, c], expected), c


# The mean (smoothgrad) for every method; the other two statistics on two of them.
TUNNELS = [(m, "smoothgrad") for m in METHODS] + [
    (m, t) for m in ("neuromask", "saliency") for t in ("smoothgrad_sq", "vargrad")
]


@pytest.mark.parametrize(("method", "nt_type"), TUNNELS)
def test_noise_tunnel_averages_explain_over_the_same_noisy_inputs(
    method: str, nt_type: str, tiny_cnn: nn.Module
) -> None:
    """The literal oracle: the noise NoiseTunnel draws (regenerated from the same global
    seed, as Captum 0.9 draws it), explained by neuromask.explain, averaged per image."""
    x, k, stdev = _inputs(), 3, 0.2
    options = fast_options(method, SIZE)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        smooth = NoiseTunnel(attribution(method)(tiny_cnn)).attribute(
            x, nt_type=nt_type, nt_samples=k, stdevs=stdev, target=[1, 3], **options
        )
        torch.manual_seed(0)
        noise = torch.normal(0, torch.tensor(stdev).repeat((x.shape[0] * k, *x.shape[1:])))
    noisy = x.repeat_interleave(k, dim=0) + noise
    maps = neuromask.explain(tiny_cnn, noisy, target=[1, 1, 1, 3, 3, 3], method=method, **options).attribution
    maps = maps.view(x.shape[0], k, *SIZE)
    mean, mean_sq = maps.mean(dim=1), (maps**2).mean(dim=1)
    expected = {"smoothgrad": mean, "smoothgrad_sq": mean_sq, "vargrad": mean_sq - mean**2}[nt_type]
    assert smooth.shape == x.shape
    for c in range(x.shape[1]):
        torch.testing.assert_close(smooth[:, c], expected, rtol=1e-5, atol=1e-6)


def test_noise_tunnel_in_batches_of_noisy_copies(tiny_cnn: nn.Module) -> None:
    """nt_samples_batch_size splits the copies over several calls; NeuroMask explains each
    image on its own (a batch equals its images one by one up to rounding), so the result
    is the one-call result up to Adam's carried rounding."""
    x = _inputs()
    runs = []
    for batch in (None, 2):
        with torch.random.fork_rng():
            torch.manual_seed(1)
            runs.append(
                NoiseTunnel(NeuroMask(tiny_cnn)).attribute(
                    x, nt_samples=4, nt_samples_batch_size=batch, stdevs=0.2, target=0, steps=10
                )
            )
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=5e-3)


@pytest.mark.parametrize("method", ["center", "random"])
def test_captum_sensitivity_max_is_zero_for_a_map_that_ignores_the_input(method: str, tiny_cnn: nn.Module) -> None:
    x = _inputs()
    score = sensitivity_max(attribution(method)(tiny_cnn).attribute, x, target=0, n_perturb_samples=3)
    assert torch.equal(score, torch.zeros(2))


def test_captum_sensitivity_max_of_saliency_matches_its_definition(tiny_cnn: nn.Module) -> None:
    """Captum's default perturbation: uniform noise in [-0.02, 0.02]; the score is the
    largest relative change of the map, max ||a(x + d) - a(x)|| / ||a(x)||."""
    x = _inputs()
    saliency = attribution("saliency")(tiny_cnn)
    with torch.random.fork_rng():
        torch.manual_seed(2)
        score = sensitivity_max(saliency.attribute, x, target=0, n_perturb_samples=4)
        torch.manual_seed(2)
        noise = torch.empty((2 * 4, *x.shape[1:])).uniform_(-0.02, 0.02)
    base = saliency.attribute(x, target=0).repeat_interleave(4, dim=0)
    moved = saliency.attribute(x.repeat_interleave(4, dim=0) + noise, target=0)
    ratio = (moved - base).flatten(1).norm(dim=1) / base.flatten(1).norm(dim=1)
    torch.testing.assert_close(score, ratio.view(2, 4).amax(dim=1), rtol=1e-5, atol=1e-7)


def test_forward_func_may_be_a_function_or_a_bound_method(tiny_cnn: nn.Module) -> None:
    x = _inputs()
    tiny_cnn.train()
    before = model_state(tiny_cnn)
    by_module = NeuroMask(tiny_cnn).attribute(x, target=2, steps=5)
    by_method = NeuroMask(tiny_cnn.forward).attribute(x, target=2, steps=5)
    assert_same_state(before, model_state(tiny_cnn))  # the bound method's module was frozen and restored
    tiny_cnn.eval()  # a plain function's modules are used as they are: eval for the same map
    by_function = NeuroMask(lambda inputs: tiny_cnn(inputs)).attribute(x, target=2, steps=5)
    assert torch.equal(by_module, by_method)
    assert torch.equal(by_module, by_function)


def test_a_loaded_model_brings_its_labels() -> None:
    model = neuromask.load_model("triangles_squares-cnn")
    x = torch.rand(2, 1, *model.input_size, generator=torch.Generator().manual_seed(0))
    out = attribution("gradcam")(model).attribute(x, target="square")
    assert torch.equal(out[:, 0], neuromask.explain(model, x, target=1, method="gradcam").attribution)


def test_captum_forms_of_target_and_inputs(tiny_cnn: nn.Module) -> None:
    x = _inputs()
    saliency = attribution("saliency")(tiny_cnn)
    by_int = saliency.attribute(x, target=3)
    assert torch.equal(saliency.attribute(x, target=(3,)), by_int)
    assert torch.equal(saliency.attribute(x, target=[(3,), (3,)]), by_int)
    assert torch.equal(saliency.attribute(x, target=torch.tensor([3, 3])), by_int)
    (as_tuple,) = saliency.attribute((x,), target=3)
    assert torch.equal(as_tuple, by_int)
    one = saliency.attribute(x[0], target=3)  # (C, H, W) in, (C, H, W) out
    torch.testing.assert_close(one, by_int[0])  # a batch of one: equal up to the batch's rounding
    with torch.no_grad():  # gradients are switched back on for the method
        assert torch.equal(saliency.attribute(x, target=3), by_int)
    as_double = attribution("saliency")(tiny_cnn.double()).attribute(x.double(), target=3)
    assert as_double.dtype == torch.float64  # the inputs' dtype
    torch.testing.assert_close(as_double.float(), by_int, rtol=1e-4, atol=1e-7)
    tiny_cnn.float()
    with pytest.raises(TargetError, match="more than two dimensions"):
        saliency.attribute(x, target=(1, 2))
    with pytest.raises(InputError, match="additional_forward_args"):
        saliency.attribute(x, target=3, additional_forward_args=(1,))
    with pytest.raises(InputError, match="one tensor"):
        saliency.attribute((x, x), target=3)
    with pytest.raises(UnknownNameError, match="no option 'stepz'"):
        NeuroMask(tiny_cnn).attribute(x, stepz=3)
    with pytest.raises(InputError, match="forward_func"):
        NeuroMask(3)  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError):
        attribution("neuromaks")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_attribution_stays_on_the_inputs_device(tiny_cnn: nn.Module) -> None:
    x = _inputs()
    on_cpu = attribution("saliency")(tiny_cnn).attribute(x, target=1)
    model = tiny_cnn.cuda()
    by_module = attribution("saliency")(model).attribute(x.cuda(), target=1)
    by_function = attribution("saliency")(lambda inputs: model(inputs)).attribute(x.cuda(), target=1)
    assert by_module.device.type == by_function.device.type == "cuda"
    torch.testing.assert_close(by_module.cpu(), on_cpu, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(by_function, by_module)
