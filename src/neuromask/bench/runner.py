"""The runner: the project's own data handed to ``evaluate``, one group at a time.

Each group of the suite (:mod:`.groups`) is written once as image and mask folders, then
:func:`neuromask.evaluate` explains it with every method and scores every map, on the
dataset engine: exactly once, resumable after a kill (SIGKILL included), in this process
or on Ray actors (``workers``). Its rows are ``DIR/groups/<group>/scores.parquet``, the
format of every evaluation; the suite's report (:mod:`neuromask.bench.report`) reads them.

The metrics of a group are the ``evaluate`` metrics of the suite's categories for its part
(two-object scenes add ``mass_margin``), with the suite's options; the methods run at
their registered defaults with their pixel-sized options scaled to the group's image size
(:func:`neuromask.resolve_options`, as every dataset run resolves them), then the suite's
overrides. ``randomisation`` runs on
``suite.sanity_images`` images per group, spread over the group.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from .._core import write_text
from ..errors import InputError
from .groups import GroupData, build, families, family, group_names
from .suites import Suite

GROUPS = "groups"
DATA = "data"
MACHINE_FILE = "machine.json"


def describe_machine(device: str = "cpu") -> dict[str, Any]:
    """The CPU, cores, memory, the device the models ran on and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1024**3, 1)
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores_usable": affinity,
        "torch_threads": torch.get_num_threads(),
        "memory_gib": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "device": device,
        "gpu": torch.cuda.get_device_name(torch.device(device)) if torch.device(device).type == "cuda" else None,
        "load_average_1min_at_start": load,
        "neuromask_commit": _git_commit(),
    }


def _git_commit() -> str | None:
    """The source checkout's commit (with ``+dirty`` for local changes), or None outside git."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", str(here.parent)],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _record_run(path: Path, run: dict[str, Any]) -> None:
    """Append ``run`` to ``machine.json``'s list of runs (a resumed run adds one; none is overwritten).

    Under a lock: the groups of a suite may run as parallel processes into one folder.
    """
    import fcntl

    with open(path.with_name(".machine.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runs: list[dict[str, Any]] = []
        if path.exists():
            previous = json.loads(path.read_text(encoding="utf-8"))
            runs = previous["runs"] if isinstance(previous, dict) and "runs" in previous else [previous]
        runs.append(run)
        write_text(path, json.dumps({"runs": runs}, indent=2, default=repr) + "\n")


def group_metrics(suite: Suite, group: GroupData, categories: tuple[str, ...] | None = None) -> list[str]:
    """The ``evaluate`` metrics of ``group``: those of the suite's categories for its part."""
    from ..evaluation import metric_names
    from ..evaluation.metrics import UNSUPPORTED, info

    wanted = suite.categories[group.part]
    if categories is not None:
        wanted = tuple(c for c in wanted if c in categories)
    pairs = group.clusters is not None
    out = []
    for name in metric_names():
        found = info(name)
        if found.category not in wanted or name in UNSUPPORTED:
            continue
        if "other_evidence" in found.needs and not pairs:
            continue
        if "evidence" in found.needs and group.truth("masks") is None:
            continue
        out.append(name)
    return out


def metric_options(suite: Suite, group: GroupData, metrics: list[str]) -> dict[str, dict[str, Any]]:
    """The suite's options for the group's metrics, and the sample size of the randomisation check."""
    options = {m: dict(v) for m, v in suite.metric_params.get(group.part, {}).items() if m in metrics}
    if "randomisation" in metrics and suite.sanity_images is not None:
        options.setdefault("randomisation", {})["images"] = suite.sanity_images
    return options


def run(
    suite: Suite,
    out: str | Path,
    *,
    methods: list[str] | None = None,
    parts: tuple[str, ...] | None = None,
    categories: tuple[str, ...] | None = None,
    progress: bool = True,
    device: str = "cpu",
    groups: tuple[str, ...] | None = None,
    workers: int = 1,
) -> int:
    """Run ``suite`` into ``out``: every group evaluated into ``out/groups/<group>/``; return the failed rows.

    Args:
        suite: what to run (see :data:`~neuromask.bench.suites.SUITES`).
        out: the output folder; what is there is kept and only what is missing is computed.
        methods: restrict to these methods (default: the suite's, else every available one).
        parts: restrict to these parts (``datasets``, ``composites``, ``photos``).
        categories: restrict to these metric categories (a rerun without it adds the rest,
            scoring the stored maps).
        progress: progress bars on stderr.
        device: where the models run (``cpu``, ``cuda``, ``cuda:N``); the ``seconds`` rows
            depend on it, ``machine.json`` records it with each run.
        groups: restrict to the groups of these names (:func:`group_names`).
        workers: Ray actors per group (1: this process).
    """
    from ..api import method_info
    from ..api import methods as registered
    from ..evaluation import evaluate

    try:
        torch.zeros(1, device=device)
    except (RuntimeError, AssertionError) as exc:  # torch raises both for a bad or absent device
        raise InputError(
            f"cannot run on device {device!r} ({str(exc).splitlines()[0]}); use cpu or a CUDA device this machine has"
        ) from exc
    if groups is not None:
        unknown = set(groups) - set(group_names(suite))
        if unknown:
            raise InputError(
                f"no group named {', '.join(sorted(unknown))} in suite {suite.name!r} "
                f"(its groups: {', '.join(group_names(suite))})"
            )
    names = list(methods or suite.methods or registered(available=True))
    for name in names:
        method_info(name)  # an unknown name fails here, before any work
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record = describe_machine(device) | {
        "suite": suite.name,
        "methods": names,
        "parts": list(parts) if parts is not None else "all",
        "categories": list(categories) if categories is not None else "all",
        "groups": list(groups) if groups is not None else "all",
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "metric_params": suite.metric_params,
        "method_params": suite.method_params,
        "sanity_images": suite.sanity_images,
        "group_failures": [],
    }
    failures = 0
    wanted = None if groups is None else {family(suite, g) for g in groups}
    for family_name in families(suite):
        part = "datasets" if family_name in suite.datasets else family_name.split("-", 1)[0]
        if (parts is not None and part not in parts) or (wanted is not None and family_name not in wanted):
            continue
        try:
            built = build(out / DATA, suite, family_name, device)
        except Exception as exc:  # noqa: BLE001 - a family that cannot be written is reported, the rest runs
            record["group_failures"].append(f"{family_name}: {type(exc).__name__}: {' '.join(str(exc).split())}")
            failures += 1
            continue
        for group in built:
            if groups is not None and group.name not in groups:
                continue
            metrics = group_metrics(suite, group, categories)
            if not metrics:
                continue
            result = evaluate(
                group.images,
                group.model,
                names,
                out / GROUPS / group.name,
                masks=group.truth("masks"),
                other_masks=group.truth("other_masks"),
                metrics=metrics,
                options={m: dict(suite.method_params.get(group.part, {}).get(m, {})) for m in names},
                metric_options=metric_options(suite, group, metrics),
                target=group.target,
                clusters=group.clusters,
                device=device,
                workers=workers,
                quiet=not progress,
            )
            failures += len(result.failures) + len(result.explained.failures)
    _record_run(out / MACHINE_FILE, record)
    return failures


__all__ = ["run", "group_names", "group_metrics", "describe_machine", "MACHINE_FILE", "GROUPS"]
