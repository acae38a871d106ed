"""Two workers on a local Ray instance (one per test session, see conftest's ``ray_instance``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dataset_runs import MODEL
from neuromask.runs import RunResults, explain_dataset, open_source, run_on_ray

pytestmark = pytest.mark.ray


def test_two_ray_workers_give_the_in_process_rows_and_maps(ray_instance, image_folder: Path, tmp_path: Path) -> None:
    kwargs = dict(options={"neuromask": {"steps": 3}}, batch_size=2, quiet=True)
    methods = ["saliency", "neuromask"]
    local = explain_dataset(image_folder, MODEL, methods, tmp_path / "local", **kwargs)
    on_ray = explain_dataset(image_folder, MODEL, methods, tmp_path / "ray", workers=2, **kwargs)
    assert local.ok and on_ray.ok and on_ray.computed == local.computed == 12
    a, b = RunResults(tmp_path / "local"), RunResults(tmp_path / "ray")
    columns = ["image", "method", "status", "target", "label"]
    key = lambda r: (r["image"], r["method"])  # noqa: E731
    assert sorted(a.table.select(columns).to_pylist(), key=key) == sorted(b.table.select(columns).to_pylist(), key=key)
    for s in open_source(image_folder):
        for m in methods:
            # Each actor runs torch with 1 thread, this process with 2: float rounding may differ.
            np.testing.assert_allclose(b.map(s.id, m), a.map(s.id, m), atol=1e-5, rtol=0)
    assert explain_dataset(image_folder, MODEL, methods, tmp_path / "ray", workers=2, **kwargs).computed == 0


def _setup() -> str:
    return "state"


def _die_once(marker: Path, state: str, batch: int) -> tuple[str, int, int]:
    """Kills its own worker process the first time it sees batch 3 (the marker remembers)."""
    if batch == 3 and not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return state, batch, os.getpid()


def test_a_worker_that_dies_is_restarted_and_its_batch_retried(ray_instance, tmp_path: Path) -> None:
    import functools
    import sys

    from ray import cloudpickle

    # The workers cannot import this test module by name: send its functions by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        compute = functools.partial(_die_once, tmp_path / "died")
        results = list(run_on_ray(_setup, compute, range(6), workers=2, threads=1))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert (tmp_path / "died").exists()
    assert sorted(batch for batch, _ in results) == list(range(6))
    assert all(result[:2] == ("state", batch) for batch, result in results)


def test_evaluate_on_two_ray_workers_gives_the_in_process_scores(ray_instance, tmp_path: Path) -> None:
    import neuromask
    from dataset_runs import write_image_folder
    from neuromask.evaluation import read_scores

    write_image_folder(tmp_path / "images", 4, masks=tmp_path / "masks")
    kwargs = dict(masks=tmp_path / "masks", metrics=["energy", "deletion"], quiet=True, report=False)
    local = neuromask.evaluate(tmp_path / "images", MODEL, ["saliency"], tmp_path / "local", **kwargs)
    on_ray = neuromask.evaluate(tmp_path / "images", MODEL, ["saliency"], tmp_path / "ray", workers=2, **kwargs)
    assert local.ok and on_ray.ok and on_ray.computed == local.computed == 8
    key = lambda r: (r["image"], r["metric"])  # noqa: E731
    a = sorted(read_scores(tmp_path / "local").to_pylist(), key=key)
    b = sorted(read_scores(tmp_path / "ray").to_pylist(), key=key)
    assert [key(r) for r in a] == [key(r) for r in b]
    np.testing.assert_allclose([r["value"] for r in b], [r["value"] for r in a], atol=1e-5)
