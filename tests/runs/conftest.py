"""Fixtures of the dataset-run tests: small PNG folders drawn from a known-answer dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataset_runs import write_image_folder


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 32x32 grey PNGs, three of each class, in an ImageFolder layout."""
    root = tmp_path_factory.mktemp("images")
    write_image_folder(root, 6)
    return root


@pytest.fixture(scope="session")
def ray_instance():
    """One local Ray instance with 2 CPUs for the whole session: its start-up (6-9 s) is paid once."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
