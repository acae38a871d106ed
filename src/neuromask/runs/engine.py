"""Engines: run a compute callback over batches, in this process or on a pool of Ray actors.

The engine knows nothing about explanations. It takes

- ``setup()``: builds a worker's state once (e.g. loads the model), in each worker;
- ``compute(state, batch)``: the result of one batch, in a worker;
- the batches, an iterable consumed lazily (a batch is read only when a worker is free),

and yields ``(batch, result)`` as results arrive, ``result`` being the exception when a
batch could not be computed (the callback should turn per-item errors into results of
its own; what reaches the engine is a batch lost as a whole, e.g. a worker that died more
often than it may be restarted). The caller, on the driver, writes and records results:
workers never touch the output folder, so exactly-once bookkeeping stays in one process.

- :func:`run_in_process`: no start-up cost; what ``--workers 1`` and most tests use.
- :func:`run_on_ray`: a pool of Ray Core actors, each holding its state (the model) once
  and using ``threads`` CPU threads; on a local Ray instance it starts (and stops), on the
  cluster at ``address``, or on the Ray instance this process is already connected to.
  Ray Data is not used: its ``map_batches`` with an actor pool hangs on 2 CPUs (the
  actors take both and its read task never runs), and its checkpointing hung on resume.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import torch

from ..errors import InputError, require

B = TypeVar("B")
S = TypeVar("S")
Result = Any

# Batches queued on each actor beyond the one it computes, so it never waits for the driver.
PREFETCH = 1
# How often Ray restarts an actor whose process died, and retries the batch it was computing.
MAX_RESTARTS = 2


def run_in_process(
    setup: Callable[[], S], compute: Callable[[S, B], Result], batches: Iterable[B]
) -> Iterator[tuple[B, Result | Exception]]:
    """Compute each batch in this process, in order; ``setup()`` runs when the first batch comes,
    so a run with nothing left to compute never builds its state (e.g. never loads the model)."""
    state: Any = None
    ready = False
    for batch in batches:
        if not ready:
            state, ready = setup(), True
        try:
            result: Result | Exception = compute(state, batch)
        except Exception as exc:  # noqa: BLE001 - reported to the caller as this batch's result
            result = exc
        yield batch, result


class _Worker:
    """A Ray actor's body: the state built once, then one batch per call."""

    def __init__(self, setup: Callable[[], Any], compute: Callable[[Any, Any], Any], threads: int) -> None:
        torch.set_num_threads(threads)
        self._compute = compute
        self._state = setup()

    def compute(self, batch: Any) -> Any:
        return self._compute(self._state, batch)


def default_threads(workers: int) -> int:
    """CPU threads per worker on this machine: its usable cores shared out, at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def run_on_ray(
    setup: Callable[[], S],
    compute: Callable[[S, B], Result],
    batches: Iterable[B],
    *,
    workers: int,
    address: str | None = None,
    threads: int | None = None,
) -> Iterator[tuple[B, Result | Exception]]:
    """Compute the batches on ``workers`` Ray actors, yielding results as they finish.

    Args:
        setup, compute: as in the module docstring; both are sent to the actors (cloudpickle).
        batches: consumed lazily, at most ``workers * (1 + PREFETCH)`` in flight.
        workers: the number of actors.
        address: a Ray cluster's address (``ray start --head`` prints it; ``auto`` finds a
            local one); ``None``: the cluster in ``RAY_ADDRESS`` (set inside ``ray job
            submit``), else a new local instance with ``workers * threads`` CPUs; a Ray
            instance this process is already connected to is always the one used.
        threads: ``torch`` threads and Ray CPUs per actor (default: this machine's cores
            shared out among the workers).
    """
    if workers < 1:
        raise InputError(f"workers must be at least 1; got {workers}")
    threads = threads or default_threads(workers)
    with ray_session(workers, address, threads) as ray:
        yield from _run_actors(ray, setup, compute, batches, workers, threads)


@contextlib.contextmanager
def ray_session(workers: int, address: str | None = None, threads: int | None = None) -> Iterator[Any]:
    """The Ray instance to run on, as :func:`run_on_ray` chooses it; yields the ``ray`` module.

    One this process is already connected to is used and left running; otherwise this
    connects to ``address`` (or ``RAY_ADDRESS``) or starts a local instance with
    ``workers * threads`` CPUs, and disconnects (stopping a local one) on exit. Several
    runs inside one session share its start-up cost.
    """
    ray = require("ray", "ray", "running on Ray (--workers > 1 or --address)")
    threads = threads or default_threads(workers)
    if ray.is_initialized():
        yield ray
        return
    # Inside `ray job submit` RAY_ADDRESS names the cluster the job runs on.
    address = address or os.environ.get("RAY_ADDRESS")
    if address is not None:
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as exc:
            raise InputError(
                f"cannot connect to the Ray cluster at '{address}' ({exc}); is it running, and with token "
                "authentication on (Ray 2.60's default) is RAY_AUTH_MODE=token set here and the cluster's "
                "token in ~/.ray/auth_token or RAY_AUTH_TOKEN?"
            ) from exc
    else:
        # "local": a new instance even when `ray start` left a cluster running on this machine.
        ray.init(address="local", num_cpus=workers * threads, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _run_actors(
    ray: Any,
    setup: Callable[[], S],
    compute: Callable[[S, B], Result],
    batches: Iterable[B],
    workers: int,
    threads: int,
) -> Iterator[tuple[B, Result | Exception]]:
    actor_class = ray.remote(num_cpus=threads, max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS)(_Worker)
    actors = [actor_class.remote(setup, compute, threads) for _ in range(workers)]
    # Not ray.util.ActorPool: it re-raises a failed task's error without saying which input
    # it was, and we must record each lost batch's items as failed and go on.
    in_flight: dict[Any, tuple[B, Any]] = {}
    pending = iter(batches)

    def submit(actor: Any) -> None:
        batch = next(pending, None)
        if batch is not None:
            in_flight[actor.compute.remote(batch)] = (batch, actor)

    try:
        for _ in range(1 + PREFETCH):
            for actor in actors:
                submit(actor)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            batch, actor = in_flight.pop(ready[0])
            try:
                result: Result | Exception = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                result = exc
            submit(actor)
            yield batch, result
    finally:
        for actor in actors:
            ray.kill(actor)
