"""Sphinx configuration of neuromask's documentation site (``make docs``; offline, warnings are errors)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the gallery's examples draw without a display

import torch  # noqa: E402

import neuromask  # noqa: E402

# The gallery's examples run in this process on 32-48 px images. One thread: on a shared,
# loaded machine OpenMP's second thread only spins (measured: NeuroMask, 60 steps on a
# 32 px image, 12-18 s with two threads against 0.45 s with one, load average 12 on 2 cores).
torch.set_num_threads(1)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import apigen  # noqa: E402

project = "neuromask"
author = "the neuromask authors"
copyright = "2026, the neuromask authors"
release = version = neuromask.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_gallery.gen_gallery",
    # Executes and renders docs/notebooks/; it also sets myst_parser up, with which guide pages
    # include the repository's Markdown pages (`.. include:: ... :parser: myst_parser.sphinx_`).
    "myst_nb",
]

# Notebooks (docs/notebooks/*.ipynb) are committed without outputs and executed by myst-nb at
# every build, in a Jupyter kernel of this Python; a cell that fails fails the build. The
# .ipynb downloads that sphinx-gallery writes beside its examples are not pages.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 600

# The API reference is generated from the package's public names at every build.
apigen.write(HERE / "api")

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    # Each example runs at build time on the shipped small models; a failure fails the build.
    "abort_on_example_error": True,
    "show_memory": False,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "furo"
html_title = f"neuromask {release}"
html_static_path = ["_static"]
# Markdown files are not pages of their own (the README-style pages of the repository); the
# guide includes the two it shows.
exclude_patterns = ["_build", "examples", "**.md", "auto_examples/*.ipynb", "**/.ipynb_checkpoints"]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def plain_text_docstrings(app, what, name, obj, options, lines: list[str]) -> None:
    """Read the package's docstrings as the plain text they are written in.

    Runs after napoleon. Two habits of the docstrings are not reST: ``|x|`` is an absolute
    value, not a substitution (escaped outside literals), and a formula is an indented
    block after a line ending in ``:`` and a blank line (made a literal block, shown as
    written). A builtin type's own docstring (``dict``'s for a dict constant) is dropped.
    """
    if (
        what in ("data", "attribute")
        and lines
        and type(obj).__doc__
        and "\n".join(lines).strip() == inspect.cleandoc(type(obj).__doc__).strip()
    ):
        lines[:] = []
        return
    literal_at: int | None = None  # the indent of the line that opened the current literal block
    for i, line in enumerate(lines):
        if literal_at is not None and line.strip() and _indent(line) <= literal_at:
            literal_at = None
        if literal_at is not None:
            continue
        stripped = line.rstrip()
        nxt = next((ln for ln in lines[i + 2 :] if ln.strip()), None)
        opens = (
            stripped.endswith(":")
            and not stripped.lstrip().startswith(":")
            and i + 1 < len(lines)
            and not lines[i + 1].strip()
            and nxt is not None
            and _indent(nxt) > _indent(line)
        )
        if opens and not stripped.endswith("::"):
            stripped += ":"
        parts = stripped.split("``")
        parts[::2] = [p.replace("|", r"\|") for p in parts[::2]]
        lines[i] = "``".join(parts)
        if opens:
            literal_at = _indent(line)


def setup(app) -> None:
    app.connect("autodoc-process-docstring", plain_text_docstrings, priority=600)
