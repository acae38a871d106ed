"""Write the API reference's pages (``docs/api/*.rst``) from what the package declares public.

Run by ``conf.py`` before every build, so that a module another engineer adds shows up
without editing the docs:

- the page ``neuromask``: every name of ``neuromask.__all__``;
- one page per public subpackage and public top-level module (no leading underscore):
  the names of its ``__all__`` where it declares one, else every public submodule's
  members; an object already documented on an earlier page is not documented twice
  (the page says where it is).

Each object is documented once, under its public name, so that cross-references resolve
to one place.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any


def _directive(obj: Any) -> str:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return "autoexception"
    if inspect.isclass(obj):
        return "autoclass"
    if callable(obj):
        return "autofunction"
    return "autodata"


def _title(text: str, char: str = "=") -> list[str]:
    return [text, char * len(text), ""]


def _document(qualname: str, obj: Any) -> list[str]:
    lines = [f".. {_directive(obj)}:: {qualname}"]
    if inspect.isclass(obj):
        lines.append("   :members:")
        if not issubclass(obj, BaseException):
            lines.append("   :show-inheritance:")
    elif _directive(obj) == "autodata":
        lines.append("   :no-value:")
    return lines + [""]


def _public_modules(package: ModuleType) -> list[str]:
    return sorted(
        f"{package.__name__}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    )


def _own_public_members(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and getattr(obj, "__module__", None) == module.__name__
            and (inspect.isfunction(obj) or inspect.isclass(obj))
        ]
    return sorted(names)


def pages(root: ModuleType) -> dict[str, list[str]]:
    """Page name -> reST lines; every public object appears once."""
    seen: dict[int, str] = {}
    out: dict[str, list[str]] = {}

    def add(qualname: str, obj: Any, lines: list[str]) -> None:
        where = seen.get(id(obj))
        if where is not None:
            lines += [f"``{qualname}``: the same object as :py:obj:`{where}`.", ""]
            return
        seen[id(obj)] = qualname
        lines += _document(qualname, obj)

    top = _title("neuromask") + [
        ".. automodule:: neuromask",
        "   :no-members:",
        "",
        ".. currentmodule:: neuromask",
        "",
    ]
    for name in root.__all__:
        add(f"neuromask.{name}", getattr(root, name), top)
    out["neuromask"] = top

    for modname in _public_modules(root):
        module = importlib.import_module(modname)
        # A subpackage that shares its name with a documented function (``neuromask.methods``) is not indexed.
        no_index = ["   :no-index:"] if any(q == modname for q in seen.values()) else []
        lines = _title(modname) + [
            f".. automodule:: {modname}",
            "   :no-members:",
            *no_index,
            "",
            f".. currentmodule:: {modname}",
            "",
        ]
        is_package = hasattr(module, "__path__")
        if hasattr(module, "__all__") or not is_package:
            for name in _own_public_members(module):
                add(f"{modname}.{name}", getattr(module, name), lines)
        if is_package:
            for subname in _public_modules(module):
                sub = importlib.import_module(subname)
                members = [n for n in _own_public_members(sub) if id(getattr(sub, n)) not in seen]
                if not members and not (sub.__doc__ or "").strip():
                    continue
                lines += _title(subname, "-") + [
                    f".. automodule:: {subname}",
                    "   :no-members:",
                    "",
                    f".. currentmodule:: {subname}",
                    "",
                ]
                for name in members:
                    add(f"{subname}.{name}", getattr(sub, name), lines)
        out[modname] = lines
    return out


def methods_table() -> list[str]:
    """A table of the registered methods in display order: name, kind, summary, and the extra it needs."""
    import neuromask

    rows = []
    for name in neuromask.methods():
        info = neuromask.method_info(name)
        rows.append((f"``{name}``", info.kind, info.summary, f"``{info.install}``" if info.install else ""))
    head = ("method", "kind", "what it does", "needs")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    rule = "  ".join("=" * w for w in widths)

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    return [rule, fmt(head), rule, *map(fmt, rows), rule, ""]


def _write_if_changed(path: Path, lines: list[str]) -> None:
    text = "\n".join(lines)
    # Rewrite only what changed, so that Sphinx's incremental build stays incremental.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write(folder: Path) -> None:
    """Write ``folder/index.rst``, one page per entry of :func:`pages` and ``methods_table.inc``."""
    import neuromask

    folder.mkdir(parents=True, exist_ok=True)
    written = pages(neuromask)
    index = (
        _title("API reference")
        + [
            "Generated from the package at build time (``docs/apigen.py``): the names of",
            "``neuromask.__all__`` first, then each public subpackage and module.",
            "",
            ".. toctree::",
            "   :maxdepth: 2",
            "",
        ]
        + [f"   {name}" for name in written]
        + [""]
    )
    pages_now = {"index": index, **written}
    for stale in folder.glob("*.rst"):
        if stale.stem not in pages_now:  # a module that was renamed or removed
            stale.unlink()
    for name, lines in pages_now.items():
        _write_if_changed(folder / f"{name}.rst", lines)
    _write_if_changed(folder / "methods_table.inc", methods_table())
