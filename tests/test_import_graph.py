"""The import graph keeps its three rules (tests/import_graph.py): no package imports another's
private module, no import cycle, and the apps use the public API, not the explainers package."""

from __future__ import annotations

import ast

import pytest

import import_graph


def test_no_package_imports_another_packages_private_module() -> None:
    edges = import_graph.cross_imports()
    assert ("neuromask.metrics.faithfulness", "neuromask._core") in edges  # the graph is read
    forbidden = [(a, b) for a, b in edges if not import_graph.allowed(b)]
    assert forbidden == []


def test_no_import_cycle() -> None:
    assert import_graph.cycles() == []


def test_apps_use_the_public_api_not_the_explainers_package() -> None:
    assert import_graph.is_app("neuromask.cli.explain") and import_graph.is_app("benchmarks.speed")
    assert not import_graph.is_app("neuromask.api")
    assert import_graph.apps_importing_explainers() == []


def test_the_rule_itself() -> None:
    assert import_graph.allowed("neuromask._core")
    assert import_graph.allowed("neuromask._core.checks")
    assert import_graph.allowed("neuromask.viz.charts")
    assert not import_graph.allowed("neuromask.explainers._common")
    assert not import_graph.allowed("neuromask.viz._figure")


def test_an_import_inside_a_function_counts_and_type_checking_ones_do_not() -> None:
    tree = ast.parse(
        "import a\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import hidden\n"
        "def f():\n    import b\n    def g():\n        from . import c\n"
        "class K:\n    def m(self):\n        import d\n"
    )
    found = {(node.names[0].name, in_function) for node, in_function in import_graph._walk(tree) if node.names}
    assert found == {("a", False), ("TYPE_CHECKING", False), ("b", True), ("c", True), ("d", True)}


def test_a_cycle_closed_inside_a_function_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = {
        "neuromask.studies.bnn": {"neuromask.studies.config": False, "neuromask.studies.findings": True},
        "neuromask.studies.findings": {"neuromask.studies.bnn": False},
        "neuromask.studies.config": {},
        "neuromask.api": {"neuromask.types": False},
        "neuromask.types": {},
    }
    monkeypatch.setattr(import_graph, "graph", lambda: fake)
    assert import_graph.cycles() == [["neuromask.studies.bnn", "neuromask.studies.findings"]]


def test_the_graph_sees_function_level_and_discovery_imports() -> None:
    graph = import_graph.graph()
    # cli.demo imports the viz module inside its run(); the explainers package discovers its modules.
    assert graph["neuromask.cli.demo"]["neuromask.viz.overlay"] is True
    assert "neuromask.explainers.occlusion" in graph["neuromask.explainers"]
    assert graph["neuromask.explainers.occlusion"]["neuromask.explainers._registry"] is False
