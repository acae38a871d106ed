"""explain(): validation, target resolution, options, and the documented errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import neuromask
from neuromask._core import resolve_target
from neuromask.errors import InputError
from neuromask.types import LoadedModel


class TupleModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor):  # noqa: ANN201 - returns the wrong type on purpose
        return self.conv(x).mean(dim=(2, 3)), "aux"


class MapModel(nn.Module):
    """Returns a feature map, not logits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class NaNModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x.mean(dim=(2, 3))) * float("nan")


def test_methods_lists_the_registry_in_display_order() -> None:
    from neuromask.explainers import METHODS

    names = neuromask.methods()
    assert sorted(names) == METHODS.names()
    assert names[0] == "neuromask"
    orders = [neuromask.method_info(n).order for n in names]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)


def test_method_info_reads_the_registration_and_signature() -> None:
    info = neuromask.method_info("occlusion")
    assert info.kind == "perturbation" and not info.is_mask
    assert info.options == neuromask.method_options("occlusion")
    assert info.pixel_options == ("window", "stride")
    # 32 px window, 16 px stride at 224 px -> a quarter of that at 56 px.
    assert info.scaled_options((56, 80)) == {"window": 8, "stride": 4}
    assert info.scaled_options((224, 300)) == {}
    assert neuromask.method_info("neuromask").progress and neuromask.method_info("neuromask").is_mask
    assert not neuromask.method_info("saliency").progress


def test_resolve_options_scales_what_the_user_did_not_give() -> None:
    # Occlusion's 32 / 16 px at 224 px: at 112 px half, at 32 px round(4.57) = 5 and round(2.29) = 2.
    assert neuromask.resolve_options("occlusion", {}, size=(112, 150))["window"] == 16
    at32 = neuromask.resolve_options("occlusion", {}, size=(32, 32))
    assert (at32["window"], at32["stride"]) == (5, 2)
    # A value the user gives is taken as it is, never scaled; the other one still is.
    given = neuromask.resolve_options("occlusion", {"window": 7}, size=(32, 32))
    assert (given["window"], given["stride"]) == (7, 2)
    assert neuromask.resolve_options("occlusion", {}, size=(224, 224)) == neuromask.method_options("occlusion")


def test_resolve_options_scales_a_presets_pixel_values_too() -> None:
    # Extremal perturbation's paper preset: sigma 21 at 224 px (TorchRay's), so 3 at 32 px;
    # the preset's steps stay; no preset -> the key is there with None.
    paper = neuromask.method_presets("extremal_perturbation")["paper"]
    options = neuromask.resolve_options("extremal_perturbation", {"preset": "paper"}, size=(32, 32))
    assert options["sigma"] == pytest.approx(paper["sigma"] * 32 / 224) and options["steps"] == paper["steps"]
    assert options["preset"] == "paper"
    assert neuromask.resolve_options("extremal_perturbation", {}, size=(32, 32))["preset"] is None


def test_resolve_options_fills_the_models_normalisation_and_is_idempotent(tiny_cnn) -> None:
    loaded = LoadedModel(tiny_cnn, "tiny", (8, 8), mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))
    once = neuromask.resolve_options("extremal_perturbation", {"preset": "fast"}, size=(40, 40), model=loaded)
    assert once["step"] == round(7 * 40 / 224)
    once = neuromask.resolve_options("occlusion", {"batch_size": 4}, size=(40, 40), model=loaded)
    assert once["mean"] == (0.5, 0.5, 0.5) and once["std"] == (0.2, 0.2, 0.2) and once["batch_size"] == 4
    assert neuromask.resolve_options("occlusion", once, size=(40, 40), model=loaded) == once
    assert neuromask.resolve_options("occlusion", {"mean": (0.1, 0.1, 0.1)}, size=(40, 40), model=loaded)["mean"] == (
        0.1,
        0.1,
        0.1,
    )


def test_explain_records_what_resolve_options_gives(tiny_cnn) -> None:
    x = torch.randn(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    e = neuromask.explain(tiny_cnn, x, method="occlusion", stride=3)
    assert e.params == neuromask.resolve_options("occlusion", {"stride": 3}, size=(40, 40))
    assert e.params["window"] == round(32 * 40 / 224)


@pytest.mark.parametrize(
    "method, params, size, error, message",
    [
        ("occlusion", {"windw": 3}, (32, 32), neuromask.UnknownNameError, "no option 'windw'.*window"),
        ("occlusion", {"preset": "fast"}, (32, 32), neuromask.UnknownNameError, "no preset 'fast'; presets: none"),
        ("rise", {"preset": "quick"}, (32, 32), neuromask.UnknownNameError, "no preset 'quick'; presets: fast, paper"),
        ("occlusoin", {}, (32, 32), neuromask.UnknownNameError, "did you mean 'occlusion'"),
        ("occlusion", {}, (32,), InputError, r"size must be \(H, W\)"),
        ("occlusion", {}, (0, 32), InputError, "positive"),
        ("occlusion", {}, (32.0, 32.0), InputError, "integers"),
    ],
)
def test_resolve_options_refuses_a_bad_request(method, params, size, error, message) -> None:
    with pytest.raises(error, match=message):
        neuromask.resolve_options(method, params, size=size)


def test_an_unavailable_method_is_reported_with_its_install_command(monkeypatch) -> None:
    from neuromask.errors import MissingDependencyError
    from neuromask.explainers import METHODS

    entry = METHODS.entry("saliency")
    monkeypatch.setitem(entry.meta, "requires", ("a_module_that_does_not_exist_here",))
    monkeypatch.setitem(entry.meta, "install", "pip install something")
    assert "saliency" not in neuromask.methods(available=True)
    assert "saliency" in neuromask.methods()
    with pytest.raises(MissingDependencyError, match="pip install something"):
        neuromask.explain(
            nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
            torch.rand(1, 3, 8, 8),
            method="saliency",
        )


def test_a_registration_without_kind_or_order_is_refused() -> None:
    from neuromask.explainers import METHODS

    with pytest.raises(RuntimeError, match="kind"):
        METHODS.register("no_kind", order=99)(lambda model, inputs, target: None)
    with pytest.raises(RuntimeError, match="order"):
        METHODS.register("no_order", kind="mask")(lambda model, inputs, target: None)
    assert "no_kind" not in METHODS and "no_order" not in METHODS


def test_three_dim_input_is_one_image(tiny_cnn) -> None:
    e = neuromask.explain(tiny_cnn, torch.randn(3, 12, 12), steps=1)
    assert e.attribution.shape == (1, 12, 12) and e.attribution.dtype == torch.float32
    assert e.target.dtype == torch.long and e.target.shape == (1,)


def test_default_target_is_top1(tiny_cnn) -> None:
    x = torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    e = neuromask.explain(tiny_cnn, x, steps=1)
    with torch.no_grad():
        assert torch.equal(e.target, tiny_cnn.eval()(x).argmax(1))
    probs = tiny_cnn(x).softmax(1)
    assert torch.allclose(e.probability, probs.gather(1, e.target[:, None])[:, 0], atol=1e-6)


def test_params_hold_every_default(tiny_cnn) -> None:
    e = neuromask.explain(tiny_cnn, torch.randn(1, 3, 12, 12), steps=2)
    options = neuromask.method_options("neuromask")
    assert set(options) <= set(e.params)
    assert e.params["steps"] == 2 and e.params["lr"] == options["lr"]


@pytest.mark.parametrize(
    "inputs, message",
    [
        (torch.randn(3, 224), r"\(N, C, H, W\).*got shape \(3, 224\)"),
        (torch.randn(1, 1, 3, 8, 8), "got shape"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.long), "floating-point"),
        (torch.full((1, 3, 8, 8), float("nan")), "NaN"),
        (torch.full((1, 3, 8, 8), float("inf")), "NaN or infinite"),
        (torch.randn(1, 1, 8, 8), "3 channels"),
        (torch.randn(0, 3, 8, 8), "at least one image"),
        ([[1.0]], "torch.Tensor"),
    ],
)
def test_bad_inputs_raise_input_error(tiny_cnn, inputs, message) -> None:
    with pytest.raises(neuromask.InputError, match=message):
        neuromask.explain(tiny_cnn, inputs, steps=1)


@pytest.mark.parametrize(
    "target, message",
    [(5, r"\[0, 4\]"), (-1, r"\[0, 4\]"), ([0, 1, 2], "one class per image"), (1.5, "integer"), ("cat", "class name")],
)
def test_bad_targets_raise_target_error(tiny_cnn, target, message) -> None:
    with pytest.raises(neuromask.TargetError, match=message):
        neuromask.explain(tiny_cnn, torch.randn(2, 3, 8, 8), target=target, steps=1)


def test_errors_are_value_errors() -> None:
    for cls in (neuromask.InputError, neuromask.TargetError, neuromask.ModelOutputError, neuromask.UnknownNameError):
        assert issubclass(cls, ValueError)
    assert issubclass(neuromask.MissingDependencyError, ImportError)


@pytest.mark.parametrize(
    "model, message", [(TupleModel(), "got tuple"), (MapModel(), r"\(N, L\)"), (NaNModel(), "NaN")]
)
def test_model_not_returning_logits(model, message) -> None:
    with pytest.raises(neuromask.ModelOutputError, match=message):
        neuromask.explain(model, torch.randn(2, 3, 8, 8), steps=1)


def test_unknown_method_and_option(tiny_cnn) -> None:
    with pytest.raises(neuromask.UnknownNameError, match="did you mean 'neuromask'"):
        neuromask.explain(tiny_cnn, torch.randn(1, 3, 8, 8), method="neuromsk")
    with pytest.raises(neuromask.UnknownNameError, match="no option 'stpes'"):
        neuromask.explain(tiny_cnn, torch.randn(1, 3, 8, 8), stpes=3)


def test_not_a_module() -> None:
    with pytest.raises(neuromask.InputError, match="nn.Module"):
        neuromask.explain(lambda x: x, torch.randn(1, 3, 8, 8))


def test_class_names_through_a_loaded_model(tiny_cnn) -> None:
    loaded = LoadedModel(tiny_cnn, "tiny", (8, 8), labels=["a", "b", "c", "d", "e"])
    e = neuromask.explain(loaded, torch.randn(2, 3, 8, 8), target="d", steps=1)
    assert e.target.tolist() == [3, 3]
    e = neuromask.explain(loaded, torch.randn(2, 3, 8, 8), target=["b", "e"], steps=1)
    assert e.target.tolist() == [1, 4]
    with pytest.raises(neuromask.TargetError, match="'zebra' is not a label"):
        neuromask.explain(loaded, torch.randn(1, 3, 8, 8), target="zebra", steps=1)


def test_loaded_model_fills_normalisation(tiny_cnn) -> None:
    loaded = LoadedModel(tiny_cnn, "tiny", (8, 8), mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))
    e = neuromask.explain(loaded, torch.randn(1, 3, 8, 8), steps=1, baseline="black")
    assert e.params["mean"] == (0.5, 0.5, 0.5)
    with pytest.raises(neuromask.InputError, match="needs the model's normalisation"):
        neuromask.explain(tiny_cnn, torch.randn(1, 3, 8, 8), steps=1, baseline="black")


def test_resolve_target_broadcasts_a_single_index() -> None:
    logits = torch.randn(3, 7)
    assert resolve_target(torch.tensor([2]), logits).tolist() == [2, 2, 2]
    assert resolve_target(4, logits).tolist() == [4, 4, 4]


def test_explanation_indexing(tiny_cnn) -> None:
    e = neuromask.explain(tiny_cnn, torch.randn(3, 3, 8, 8), steps=2)
    one = e[1]
    assert len(one) == 1 and torch.equal(one.attribution[0], e.attribution[1])
    assert torch.equal(one.extras["masked_probability"], e.extras["masked_probability"][1:2])
    assert torch.equal(e[-1].attribution[0], e.attribution[2])


class _Raises(torch.nn.Module):
    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc
        self.conv = torch.nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.exc


def test_only_a_shape_mismatch_becomes_an_input_error() -> None:
    from neuromask._core import forward_logits

    x = torch.randn(1, 3, 8, 8)
    wrong_size = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5, 2))  # expects 5 features
    with pytest.raises(InputError, match="cannot run on inputs of shape"):
        forward_logits(wrong_size, x)
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    with pytest.raises(torch.OutOfMemoryError):
        forward_logits(_Raises(oom), x)
    with pytest.raises(RuntimeError, match="internal") as info:
        forward_logits(_Raises(RuntimeError("an internal assert failed")), x)
    assert not isinstance(info.value, InputError)


def test_a_slow_method_without_a_fast_preset_is_refused() -> None:
    from neuromask.explainers import METHODS

    def slow(model, inputs, target, *, steps: int = 100):  # noqa: ANN001, ANN202 - never called
        """A method with an iteration count."""

    with pytest.raises(RuntimeError, match="'steps', so it must register a 'fast' preset"):
        METHODS.register("slow_without_fast", kind="mask", order=99)(slow)
    assert "slow_without_fast" not in METHODS
    METHODS.register("slow_with_fast", kind="mask", order=99, presets={"fast": {"steps": 2}})(slow)
    METHODS._entries.pop("slow_with_fast")
