"""The module import graph of neuromask across packages.

    python tests/import_graph.py          # every cross-package import, grouped by package pair
    python tests/import_graph.py --bad    # only the forbidden ones

A package is a top-level subpackage of ``neuromask`` (``neuromask.metrics``) or a top-level
module (``neuromask.api``). An import crosses packages when the importing and the imported
module belong to different ones. Allowed across packages: ``neuromask._core`` (the private
core every package shares) and public modules, i.e. none of whose path components after
``neuromask`` starts with ``_`` (``neuromask.explainers._common`` is private to
``neuromask.explainers``). Read with ``ast``, so nothing is imported to draw it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Absolute names of the neuromask modules (or their members' modules) ``path`` imports."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "neuromask")
        elif isinstance(node, ast.ImportFrom):
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
                is_module = (SRC / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    SRC / Path(*sub.split("."))
                ).is_dir()
                found.add(sub if is_module else target)
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def allowed(target: str) -> bool:
    parts = target.split(".")[1:]
    if parts and parts[0] == "_core":
        return True
    return not any(p.startswith("_") for p in parts)


def cross_imports() -> list[tuple[str, str]]:
    """(importer, imported) for every import between two different packages."""
    edges = []
    for path in sorted((SRC / "neuromask").rglob("*.py")):
        source = module_name(path)
        for target in sorted(imports(path)):
            if package_of(source) != package_of(target):
                edges.append((source, target))
    return edges


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bad", action="store_true", help="only the imports of another package's private module")
    args = parser.parse_args(argv)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    bad = 0
    for source, target in cross_imports():
        ok = allowed(target)
        bad += not ok
        if args.bad and ok:
            continue
        groups[(package_of(source), package_of(target))].append(f"{source} -> {target}{'' if ok else '   FORBIDDEN'}")
    for (a, b), lines in sorted(groups.items()):
        print(f"{a} -> {b}")
        for line in lines:
            print(f"    {line}")
    print(f"{sum(len(v) for v in groups.values())} cross-package imports shown; {bad} forbidden", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
