"""The module import graph of neuromask, and the three rules it must keep.

    python tests/import_graph.py          # every cross-package import, then the three counts
    python tests/import_graph.py --bad    # only what breaks a rule

Read with ``ast``, so nothing is imported to draw it. Every import counts, at the top of a
module or inside a function (an import moved into a function still runs, and a cycle it
closes is still a cycle); ``typing.TYPE_CHECKING`` blocks are the one exception, as they
never run. ``from . import NAME`` imports the module ``NAME`` when there is one, else the
package itself (its ``__init__``). A module that discovers its package's modules
(``importlib.import_module`` over ``pkgutil.iter_modules(__path__)``, as the registries
do, through ``neuromask.registry.import_submodules``) imports every public module of that
package.

A package is a top-level subpackage of ``neuromask`` (``neuromask.metrics``) or a top-level
module (``neuromask.api``). The rules:

1. **No private module of another package.** Allowed across packages: ``neuromask._core``
   (the private core every package shares) and public modules, none of whose path
   components after ``neuromask`` starts with ``_`` (``neuromask.explainers._common`` is
   private to ``neuromask.explainers``).
2. **No import cycle**, inside a package or across packages: the module graph is a DAG.
3. **Apps use the public API.** The applications (:data:`APPS`, and the scripts in
   ``benchmarks/``) never import the explainers package; they reach the methods through
   ``neuromask`` (``explain``, ``methods``, ``method_info``, ``resolve_options``).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
BENCHMARKS = ROOT / "benchmarks"
# The applications built on the library: they must use its public API.
APPS = ("neuromask.cli", "neuromask.bench", "neuromask.runs", "neuromask.dashboard", "neuromask.studies")
EXPLAINERS = "neuromask.explainers"


def module_name(path: Path) -> str:
    """``src/neuromask/metrics/cost.py`` -> ``neuromask.metrics.cost``; a benchmark script -> ``benchmarks.NAME``."""
    if path.is_relative_to(SRC):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
    else:
        parts = ["benchmarks", path.stem]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = SRC / Path(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(tree: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it sits inside a function, skipping TYPE_CHECKING blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                yield from _walk(ast.Module(body=[child], type_ignores=[]), in_function)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function
        yield from _walk(node, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))


def _discovers(tree: ast.AST) -> set[str] | None:
    """The module names a module skips when it imports its package's modules at run time (a
    registry's discovery: ``neuromask.registry.import_submodules``, or ``importlib`` over
    ``pkgutil.iter_modules``), or None when it does not discover them."""
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    for call in calls:
        if ast.unparse(call.func).endswith("import_submodules"):
            skip = next((k.value for k in call.keywords if k.arg == "skip"), None)
            return set(ast.literal_eval(skip)) if skip is not None else set()
    names = {ast.unparse(call.func) for call in calls}
    over_path = any(
        ast.unparse(call.func).endswith("iter_modules") and "__path__" in ast.unparse(call) for call in calls
    )
    return set() if "importlib.import_module" in names and over_path else None


def imports(path: Path) -> dict[str, bool]:
    """The neuromask modules ``path`` imports (absolute names), each with whether every import
    of it is inside a function (True) or at least one is at module level (False)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, bool] = {}

    def add(target: str, in_function: bool) -> None:
        found[target] = found.get(target, True) and in_function

    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _discovers(tree)
    if skip is not None:
        folder = path.parent
        for child in sorted(folder.iterdir()):
            stem = child.stem if child.suffix == ".py" else child.name
            public = not stem.startswith("_") and stem not in skip
            if public and (child.suffix == ".py" or (child / "__init__.py").exists()):
                add(f"{module_name(folder / '__init__.py')}.{stem}", False)
    for node, in_function in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "neuromask":
                    add(alias.name, in_function)
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target.split(".")[0] != "neuromask":
            continue
        # `from ..x import y` imports the module x.y when y is a module, else a member of x.
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            add(sub if _is_module(sub) else target, in_function)
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def allowed(target: str) -> bool:
    """Rule 1: may a module of another package import ``target``?"""
    parts = target.split(".")[1:]
    if parts and parts[0] == "_core":
        return True
    return not any(p.startswith("_") for p in parts)


def library_files() -> list[Path]:
    return sorted((SRC / "neuromask").rglob("*.py"))


def graph() -> dict[str, dict[str, bool]]:
    """module -> {imported module: only inside functions?}, for every module of the library."""
    return {module_name(path): imports(path) for path in library_files()}


def cross_imports() -> list[tuple[str, str]]:
    """(importer, imported) for every import between two different packages."""
    return sorted(
        (source, target)
        for source, targets in graph().items()
        for target in targets
        if package_of(source) != package_of(target)
    )


def cycles() -> list[list[str]]:
    """Rule 2: every import cycle, as the modules of one strongly connected component (Tarjan)."""
    edges = {source: sorted(t for t in targets if t != source) for source, targets in graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def is_app(module: str) -> bool:
    return module.startswith("benchmarks.") or any(module == a or module.startswith(a + ".") for a in APPS)


def apps_importing_explainers() -> list[tuple[str, str]]:
    """Rule 3: (app module or benchmark script, the explainers module it imports)."""
    sources = {module_name(p): imports(p) for p in library_files()}
    sources |= {module_name(p): imports(p) for p in sorted(BENCHMARKS.glob("*.py"))}
    return sorted(
        (source, target)
        for source, targets in sources.items()
        if is_app(source)
        for target in targets
        if target == EXPLAINERS or target.startswith(EXPLAINERS + ".")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bad", action="store_true", help="only what breaks a rule")
    args = parser.parse_args(argv)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    everything = graph()
    private = 0
    for source, target in cross_imports():
        ok = allowed(target)
        private += not ok
        if args.bad and ok:
            continue
        where = " (in a function)" if everything[source][target] else ""
        groups[(package_of(source), package_of(target))].append(
            f"{source} -> {target}{where}{'' if ok else '   FORBIDDEN: private'}"
        )
    for (a, b), lines in sorted(groups.items()):
        print(f"{a} -> {b}")
        for line in lines:
            print(f"    {line}")
    found = cycles()
    for component in found:
        print(f"CYCLE: {' <-> '.join(component)}")
    apps = apps_importing_explainers()
    for source, target in apps:
        print(f"APP IMPORTS THE EXPLAINERS PACKAGE: {source} -> {target}")
    shown = sum(len(v) for v in groups.values())
    print(
        f"{shown} cross-package imports shown; private modules of another package imported: {private}; "
        f"cycles: {len(found)}; apps importing the explainers package: {len(apps)}"
    )
    return 1 if private or found or apps else 0


if __name__ == "__main__":
    sys.exit(main())
