"""Only neuromask._core and public modules are imported across packages (tests/import_graph.py)."""

from __future__ import annotations

import import_graph


def test_no_package_imports_another_packages_private_module() -> None:
    edges = import_graph.cross_imports()
    assert ("neuromask.metrics.faithfulness", "neuromask._core") in edges  # the graph is read
    forbidden = [(a, b) for a, b in edges if not import_graph.allowed(b)]
    assert forbidden == []


def test_the_rule_itself() -> None:
    assert import_graph.allowed("neuromask._core")
    assert import_graph.allowed("neuromask._core.checks")
    assert import_graph.allowed("neuromask.viz.charts")
    assert not import_graph.allowed("neuromask.explainers._common")
    assert not import_graph.allowed("neuromask.viz._figure")
