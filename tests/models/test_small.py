"""The compact CNN and the Carlini & Wagner CIFAR-10 CNN; training code paths on small data."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from helpers import one_thread  # noqa: F401 - autouse: one torch thread
from neuromask.cli.main import main
from neuromask.errors import InputError, ModelLoadError, UnknownNameError
from neuromask.models.small import CarliniWagnerCNN, SmallCNN
from neuromask.models.train import build, evaluate, fit, load_trained, save_trained, train


@pytest.mark.parametrize("size", [8, 32, 48, 64])
def test_small_cnn_any_size(size: int) -> None:
    model = build("cnn", 5, width=4).eval()
    assert model(torch.rand(3, 1, size, size)).shape == (3, 5)


def test_small_cnn_layers_for_explainers() -> None:
    model = SmallCNN(2)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(type(c) is nn.Conv2d for c in convs)
    with pytest.raises(InputError, match="width"):
        SmallCNN(2, width=0)


def test_build_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.get_rng_state()
    a, b = build("bnn", 2, seed=7), build("bnn", 2, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    for (_, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(p, q)
    with pytest.raises(UnknownNameError, match="cnn, bnn"):
        build("resnet", 2)


def test_carlini_wagner_architecture() -> None:
    model = CarliniWagnerCNN().eval()
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3200, 256), (256, 256), (256, 10)]
    with pytest.raises(InputError, match="32 x 32"):
        model(torch.rand(1, 3, 28, 28))


def test_training_code_path_on_random_tensors() -> None:
    """fit() on a few random CIFAR-shaped tensors: the loss falls, weights change, RNG untouched."""
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.rand(8, 3, 32, 32, generator=gen) - 0.5, torch.randint(0, 10, (8,), generator=gen)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = CarliniWagnerCNN()
    before = [p.detach().clone() for p in model.parameters()]
    state = torch.get_rng_state()
    losses = fit(model, images, labels, epochs=4, batch_size=4, lr=1e-3, progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    assert not model.training
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert 0.0 <= evaluate(model, images, labels) <= 1.0


def test_fit_rejects_bad_input() -> None:
    model = SmallCNN(2)
    with pytest.raises(InputError, match="labels"):
        fit(model, torch.rand(4, 1, 8, 8), torch.zeros(3, dtype=torch.long), progress=False)
    with pytest.raises(InputError, match="epochs"):
        fit(model, torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), epochs=0, progress=False)


def test_train_save_load_round_trip(tmp_path) -> None:
    result = train("counting", "bnn", samples=64, test_samples=32, epochs=1, width=4, progress=False)
    record = result.record
    assert record["dataset"] == "counting" and record["arch"] == "bnn" and record["seed"] == 0
    assert 0.0 <= record["accuracy"] <= 1.0 and record["input_size"] == [32, 32]
    weights, record_path = save_trained(result, tmp_path / "m.pt")
    assert json.loads(record_path.read_text()) == json.loads(json.dumps(record))
    back = load_trained(weights)
    inputs = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        # fp16 storage: the logits agree to fp16 precision.
        assert torch.allclose(back.model(inputs), result.model(inputs), atol=0.05)
    with pytest.raises(ModelLoadError):
        load_trained(tmp_path / "missing.pt")


def test_cli_train(tmp_path, capsys) -> None:
    out = tmp_path / "ts.pt"
    code = main(
        [
            "train",
            "--dataset",
            "triangles_squares",
            "--variant",
            "scaled",
            "--arch",
            "cnn",
            "--samples",
            "32",
            "--test-samples",
            "16",
            "--epochs",
            "1",
            "--width",
            "4",
            "--seed",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "test accuracy" in capsys.readouterr().out
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["options"] == {"variant": "scaled", "contrast": 0.25}
    assert (record["seed"], record["arch"], record["input_size"]) == (3, "cnn", [64, 64])
    assert "seconds" in record and out.exists()


def test_cli_train_bad_variant(tmp_path, capsys) -> None:
    code = main(
        [
            "train",
            "--dataset",
            "triangles_squares",
            "--variant",
            "rotated",
            "--arch",
            "cnn",
            "--samples",
            "8",
            "--out",
            str(tmp_path / "x.pt"),
        ]
    )
    assert code == 2 and "oriented, scaled" in capsys.readouterr().err


def test_what_train_cifar10_saves_loads_back(tmp_path) -> None:
    """train_cifar10 needs CIFAR-10 on disk; its record (cifar10_record) and weights must
    round-trip through save_trained / load_trained like the dataset models'."""
    from neuromask.models.train import TrainResult, cifar10_record, load_trained, save_trained

    torch.manual_seed(0)
    model = CarliniWagnerCNN().eval()
    record = cifar10_record(seed=0, epochs=1, accuracy=0.1, seconds=1.0)
    path, _ = save_trained(TrainResult(model, record), tmp_path / "cw.pt")
    loaded = load_trained(path)
    assert isinstance(loaded.model, CarliniWagnerCNN) and loaded.record["class_names"][3] == "cat"
    x = torch.rand(2, 3, 32, 32) - 0.5
    torch.testing.assert_close(loaded.model(x), model.half().float()(x), rtol=0, atol=1e-5)
