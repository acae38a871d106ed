"""The known-answer datasets: exact evidence, determinism, streaming, balance, files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.measure import label as connected_components

from neuromask import datasets
from neuromask.errors import InputError, UnknownNameError

CASES = [
    ("triangles_squares", {"variant": "oriented"}, 32),
    ("triangles_squares", {"variant": "scaled"}, 64),
    ("counting", {}, 32),
    ("shapes_on_texture", {}, 48),
]
IDS = ["ts-oriented", "ts-scaled", "counting", "texture"]


@pytest.fixture(scope="module", params=list(zip(CASES, IDS)), ids=IDS)
def case(request: pytest.FixtureRequest) -> tuple[str, dict, int, datasets.Dataset]:
    (name, options, size), _ = request.param
    return name, options, size, datasets.generate(name, 60, seed=3, **options)


def _corner_ratio(mask: np.ndarray) -> float:
    """area / R^2, R the largest centre-to-pixel distance plus half a pixel: ~1.3 for a
    triangle, ~2 for a square, ~2.6 or more for a disc, whatever rotation, position and size
    (measured on the rasterised shapes: 1.2-1.55, 1.8-2.25, 2.4-2.9)."""
    rows, cols = np.nonzero(mask)
    radius = np.sqrt(((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2).max()) + 0.5
    return mask.sum() / radius**2


def test_registered() -> None:
    assert datasets.DATASETS.names() == ["counting", "shapes_on_texture", "triangles_squares"]
    assert datasets.class_names("triangles_squares") == ["triangle", "square"]
    assert datasets.dataset_options("triangles_squares")["variant"] == "oriented"


def test_shapes_and_types(case) -> None:
    name, options, size, data = case
    assert data.images.shape == (60, 1, size, size) and data.images.dtype == torch.float32
    assert data.labels.shape == (60,) and data.labels.dtype == torch.long
    assert data.evidence.shape == (60, size, size) and data.evidence.dtype == torch.bool
    assert float(data.images.min()) >= 0.0 and float(data.images.max()) <= 1.0
    assert data.name == name and data.options == {**datasets.dataset_options(name), **options}
    assert len(data.class_names) == int(data.labels.max()) + 1
    assert bool(data.evidence.flatten(1).any(1).all()), "every sample has evidence"


@pytest.mark.parametrize(
    "name, options",
    [("triangles_squares", {"variant": "oriented"}), ("triangles_squares", {"variant": "scaled"}), ("counting", {})],
)
def test_evidence_is_exactly_the_object_on_uniform_background(name: str, options: dict) -> None:
    data = datasets.generate(name, 60, seed=1, **options)
    for image, evidence in zip(data.images[:, 0], data.evidence):
        background = image[0, 0]  # generators keep the border free of objects
        assert not evidence[0, 0]
        assert torch.equal(image != background, evidence)
        objects = image[evidence]
        assert torch.all(objects == objects[0]), "uniform object"
        assert abs(float(objects[0] - background)) >= 0.25


def test_triangles_and_squares_are_what_the_label_says() -> None:
    for variant in ("oriented", "scaled"):
        data = datasets.generate("triangles_squares", 100, seed=2, variant=variant)
        ratios = np.array([_corner_ratio(m.numpy()) for m in data.evidence])
        labels = data.labels.numpy()
        assert np.all(ratios[labels == 0] < 1.65) and np.all(ratios[labels == 1] > 1.65)


def test_triangles_and_squares_have_the_same_area() -> None:
    data = datasets.generate("triangles_squares", 200, seed=4, variant="oriented")
    area = data.evidence.flatten(1).sum(1).float()
    means = [float(area[data.labels == c].mean()) for c in (0, 1)]
    assert abs(means[0] - 144) < 6 and abs(means[1] - 144) < 6


def test_counting_label_is_the_number_of_separate_discs() -> None:
    data = datasets.generate("counting", 100, seed=5)
    for evidence, label in zip(data.evidence, data.labels):
        components = connected_components(evidence.numpy(), connectivity=2)
        assert components.max() == int(label) + 1
        # Every component is one disc, not two touching: two would have a ratio near 1.5.
        for k in range(1, int(label) + 2):
            assert _corner_ratio(components == k) > 2.0


def test_shapes_on_texture_evidence_is_the_bright_shape_only() -> None:
    data = datasets.generate("shapes_on_texture", 60, seed=6, distractors=3)
    for image, evidence, label in zip(data.images[:, 0], data.evidence, data.labels):
        assert torch.equal(image > 0.8, evidence)
        assert torch.all(image[evidence] == image[evidence][0])
        # Objects (brighter than any texture) are the target plus three distractors, all apart.
        objects = connected_components((image > 0.475).numpy(), connectivity=2)
        assert objects.max() == 4
        ratios = [_corner_ratio(objects == k) for k in range(1, 5)]
        target = _corner_ratio(evidence.numpy())
        kind = [lambda r: r < 1.65, lambda r: 1.65 <= r < 2.3, lambda r: r >= 2.3]
        assert kind[int(label)](target), "the bright shape is of the labelled class"
        others = [r for r in ratios if abs(r - target) > 1e-9]
        assert all(not kind[int(label)](r) for r in others), "distractors are of other classes"


def test_deterministic_per_seed(case) -> None:
    name, options, _, data = case
    again = datasets.generate(name, 60, seed=3, **options)
    assert torch.equal(again.images, data.images) and torch.equal(again.evidence, data.evidence)
    other = datasets.generate(name, 60, seed=4, **options)
    assert not torch.equal(other.images, data.images)


def test_stream_equals_generate(case) -> None:
    name, options, _, data = case
    for batch_size in (1, 7, 25):
        chunks = list(datasets.stream(name, 60, seed=3, batch_size=batch_size, **options))
        assert [len(c) for c in chunks[:-1]] == [batch_size] * (len(chunks) - 1)
        joined = datasets.concat(chunks)
        assert torch.equal(joined.images, data.images)
        assert torch.equal(joined.labels, data.labels)
        assert torch.equal(joined.evidence, data.evidence)
    tail = datasets.generate(name, 20, seed=3, start=40, **options)
    assert torch.equal(tail.images, data.images[40:])


def test_stream_is_lazy() -> None:
    chunks = datasets.stream("triangles_squares", 100_000, seed=0, batch_size=8)
    assert len(next(chunks)) == 8


def test_class_balance(case) -> None:
    name, _, _, data = case
    counts = torch.bincount(data.labels, minlength=len(data.class_names))
    assert int(counts.max() - counts.min()) <= 1
    window = datasets.generate(name, 7, seed=0, start=11, **case[1]).labels
    counts = torch.bincount(window, minlength=len(data.class_names))
    assert int(counts.max() - counts.min()) <= 1


def test_save_load_round_trip(case, tmp_path) -> None:
    _, _, _, data = case
    path = datasets.save(data, tmp_path / "data")
    assert path.suffix == ".npz"
    back = datasets.load(path)
    assert torch.equal(back.images, data.images) and torch.equal(back.labels, data.labels)
    assert torch.equal(back.evidence, data.evidence)
    assert (back.name, back.class_names, back.options) == (data.name, data.class_names, data.options)


def test_bad_input() -> None:
    with pytest.raises(UnknownNameError, match="triangles_squares"):
        datasets.generate("triangle_squares", 2)
    with pytest.raises(UnknownNameError, match="variant"):
        datasets.generate("counting", 2, variant="scaled")
    with pytest.raises(InputError, match="oriented, scaled"):
        datasets.generate("triangles_squares", 2, variant="rotated")
    with pytest.raises(InputError, match="n must be"):
        datasets.generate("counting", -1)
    with pytest.raises(InputError, match="seed must be"):
        datasets.generate("counting", 1, seed=-3)
    with pytest.raises(InputError, match="batch_size"):
        next(datasets.stream("counting", 4, batch_size=0))
    with pytest.raises(InputError, match="distractors"):
        datasets.generate("shapes_on_texture", 1, distractors=9)


def test_load_rejects_other_files(tmp_path) -> None:
    path = tmp_path / "other.npz"
    np.savez_compressed(path, x=np.zeros(3))
    with pytest.raises(InputError, match="cannot read"):
        datasets.load(path)
    with pytest.raises(InputError):
        datasets.load(tmp_path / "missing.npz")


def test_empty_dataset() -> None:
    data = datasets.generate("counting", 0)
    assert data.images.shape == (0, 1, 32, 32) and data.evidence.shape == (0, 32, 32)


def _fine(rng, label, *, size=8):
    """A well-formed generator."""
    return np.zeros((size, size), np.float32), np.ones((size, size), bool)


def _positional_option(rng, label, size=8):
    """An option that is not keyword-only."""
    return _fine(rng, label)


@pytest.mark.parametrize(
    "fn, meta, message",
    [
        (_fine, {"classes": ("a",)}, "at least two"),
        (_fine, {"classes": ["a", "b"]}, "tuple"),
        (_fine, {"classes": ("a", "b"), "variants": ("x",)}, "no variant option"),
        (_fine, {"classes": ("a", "b"), "colour": "red"}, "unknown keys"),
        (_positional_option, {"classes": ("a", "b")}, "keyword-only"),
        (lambda label, rng: None, {"classes": ("a", "b")}, r"\(rng, label\) first"),
    ],
)
def test_a_registration_that_breaks_the_contract_is_refused(fn, meta, message) -> None:
    with pytest.raises(RuntimeError, match=message):
        datasets.DATASETS.register("test_bad", **meta)(fn)
    assert "test_bad" not in datasets.DATASETS


def test_every_dataset_module_is_found() -> None:
    import pkgutil

    modules = {i.name for i in pkgutil.iter_modules(datasets.__path__) if not i.name.startswith("_")}
    assert set(datasets.DATASETS.names()) <= modules  # each dataset is its own module, imported by the package
