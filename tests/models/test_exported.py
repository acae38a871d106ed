"""Model files as people export them: (N, H, W, C) inputs and a softmax at the end.

The files are TorchScript exports of a small seeded CNN; the reference is the same CNN in
Python taking (N, C, H, W) and returning logits. Loaded through load_model(), the export
must give the reference's log-softmax, and every method must explain it exactly as it
explains the reference (their objectives see log-probabilities either way).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import neuromask
from explainers._fixtures import one_thread  # noqa: F401 - autouse: tiny TorchScript models, one thread
from neuromask.models.exported import ChannelsLastInput, LogProbabilities


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 6, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 4),
    ).eval()


class Exported(nn.Module):
    """The CNN as a deployment export: channels-last inputs and/or softmax outputs."""

    def __init__(self, cnn: nn.Module, nhwc: bool, softmax: bool) -> None:
        super().__init__()
        self.cnn, self.nhwc, self.softmax = cnn, nhwc, softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.nhwc:
            if x.shape[-1] != 3:  # what a Keras-style graph does with a (N, C, H, W) input
                raise RuntimeError(f"expected a channels-last input (N, H, W, 3); got {list(x.shape)}")
            x = x.permute(0, 3, 1, 2)
        out = self.cnn(x)
        return out.softmax(dim=1) if self.softmax else out


def _export(tmp_path: Path, nhwc: bool, softmax: bool) -> Path:
    path = tmp_path / f"cnn_nhwc{int(nhwc)}_softmax{int(softmax)}.pt"
    torch.jit.script(Exported(_cnn(), nhwc, softmax).eval()).save(str(path))
    return path


@pytest.mark.parametrize("nhwc, softmax", [(False, False), (True, False), (False, True), (True, True)])
def test_exported_files_are_detected_and_give_the_reference_log_probabilities(tmp_path, nhwc, softmax) -> None:
    loaded = neuromask.load_model(_export(tmp_path, nhwc, softmax), input_size=32)
    assert loaded.extra["input_layout"] == ("NHWC" if nhwc else "NCHW")
    assert loaded.extra["outputs"] == ("probabilities" if softmax else "logits")
    assert isinstance(loaded.module, LogProbabilities) == softmax
    assert any(isinstance(m, ChannelsLastInput) for m in loaded.module.modules()) == nhwc
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    reference = _cnn()(x).log_softmax(dim=1)
    with torch.no_grad():
        got = loaded.module(x).log_softmax(dim=1)
    torch.testing.assert_close(got, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", ["neuromask", "saliency", "integrated_gradients", "occlusion"])
def test_every_objective_sees_the_same_log_probabilities(tmp_path, method) -> None:
    """NeuroMask's cross-entropy on log p equals that on the logits; the gradient methods
    and occlusion explain log p (the reference here is the CNN followed by log_softmax)."""
    loaded = neuromask.load_model(_export(tmp_path, nhwc=True, softmax=True), input_size=32)
    reference = nn.Sequential(_cnn(), nn.LogSoftmax(dim=1)).eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    options = {"preset": "fast"} if "fast" in neuromask.method_presets(method) else {}
    got = neuromask.explain(loaded.module, x, method=method, **options).attribution
    want = neuromask.explain(reference, x, method=method, **options).attribution
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_a_probability_model_is_not_wrapped_twice_and_logits_stay_as_they_are(tmp_path) -> None:
    plain = neuromask.load_model(_export(tmp_path, nhwc=False, softmax=False), input_size=32)
    assert isinstance(plain.module, torch.jit.ScriptModule)  # untouched
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(plain.module(x), _cnn()(x), rtol=0, atol=1e-6)


def test_an_export_of_a_size_that_was_not_given_is_refused_with_what_to_pass(tmp_path) -> None:
    class Fixed(nn.Module):  # a Keras-style export with a fixed 24 x 24 channels-last input
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(24 * 24 * 3, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x.reshape(x.shape[0], 24 * 24 * 3)).softmax(dim=1)

    path = tmp_path / "fixed.pt"
    torch.jit.script(Fixed().eval()).save(str(path))
    with pytest.raises(neuromask.errors.ModelLoadError, match="pass input_size= and channels="):
        neuromask.load_model(path)  # 224 x 224 by default
    loaded = neuromask.load_model(path, input_size=24)
    assert loaded.extra["outputs"] == "probabilities"
