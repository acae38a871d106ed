"""What ``pip install neuromask`` gives, read from the package's built metadata.

The metadata is built by setuptools' own PEP 517 hook from pyproject.toml, in a copy
outside the checkout (so that no egg-info lands in the tree). Each ``Requires-Dist`` is
then evaluated as pip evaluates it: with no extra for a plain install, with ``extra ==
NAME`` for ``neuromask[NAME]``. The extras must add their own requirements and change
nothing that a plain install resolves.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# What only an extra may bring: none of these may be in a plain install.
EXTRA_ONLY = {"transformers", "timm", "torchvision", "onnx", "onnx2torch", "zennit", "ray", "streamlit"}


@pytest.fixture(scope="module")
def metadata(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    project = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copy(ROOT / "README.md", project)
    (project / "src" / "neuromask").mkdir(parents=True)
    (project / "src" / "neuromask" / "__init__.py").write_text("")
    out = tmp_path_factory.mktemp("metadata")
    code = f"from setuptools import build_meta; print(build_meta.prepare_metadata_for_build_wheel({str(out)!r}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    folder = out / result.stdout.strip().splitlines()[-1]
    message = Parser().parsestr((folder / "METADATA").read_text())
    return {
        "Requires-Dist": message.get_all("Requires-Dist") or [],
        "Provides-Extra": message.get_all("Provides-Extra"),
    }


def resolved(requirements: list[str], extra: str) -> set[str]:
    """The requirements pip acts on for ``neuromask[extra]`` ("" = a plain install), as
    ``name[extras]specifier`` without their markers."""
    return {
        _plain(Requirement(r))
        for r in requirements
        if Requirement(r).marker is None or Requirement(r).marker.evaluate({"extra": extra})
    }


def _plain(requirement: Requirement) -> str:
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{canonicalize_name(requirement.name)}{extras}{requirement.specifier}"


def declared() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_a_plain_install_is_the_core_dependencies_and_nothing_an_extra_adds(metadata) -> None:
    plain = resolved(metadata["Requires-Dist"], "")
    core = {_plain(Requirement(r)) for r in declared()["dependencies"]}
    assert plain == core
    assert not {canonicalize_name(Requirement(r).name) for r in declared()["dependencies"]} & EXTRA_ONLY
    # torch stays the range that the installed build satisfies.
    assert "torch>=2.1" in plain


@pytest.mark.parametrize("extra", sorted(declared()["optional-dependencies"]))
def test_each_extra_only_adds_its_own_requirements(metadata, extra: str) -> None:
    assert extra in metadata["Provides-Extra"]
    plain = resolved(metadata["Requires-Dist"], "")
    with_extra = resolved(metadata["Requires-Dist"], extra)
    assert plain <= with_extra
    own = {_plain(Requirement(r)) for r in declared()["optional-dependencies"][extra]}
    assert with_extra - plain == own
    assert not any(
        canonicalize_name(Requirement(r).name) == "torch" for r in declared()["optional-dependencies"][extra]
    )


def test_hf_extra_is_transformers_alone_and_in_all() -> None:
    extras = declared()["optional-dependencies"]
    assert [Requirement(r).name for r in extras["hf"]] == ["transformers"]
    (everything,) = extras["all"]
    assert "hf" in Requirement(everything).extras
