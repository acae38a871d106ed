"""Dataset runs: every image of a folder, ImageFolder or WebDataset shards explained once, resumably.

::

    from neuromask.runs import explain_dataset, RunResults
    summary = explain_dataset("photos/", "efficientnet_lite0", ["saliency", "neuromask"], "out/run",
                              options={"neuromask": {"steps": 100}}, batch_size=4)
    results = RunResults("out/run")
    results.table                          # pyarrow.Table: one row per (image, method)
    results.map("cats/01.png", "saliency") # (H0, W0) float32

The parts: :mod:`.sources` (what the images are), :mod:`.items` (work items and their
keys), :mod:`.manifest` (what is done), :mod:`.store` (maps, table, reader),
:mod:`.engine` (in-process or Ray actors), :mod:`.compute` (a worker's batch),
:mod:`.driver` (the loop that ties them).
"""

from .driver import TARGETS, RunSummary, explain_dataset
from .engine import ray_session, run_in_process, run_on_ray
from .items import WorkItem, canonical_json, model_key, options_hash
from .manifest import Manifest, locked
from .sources import SOURCE_KINDS, Sample, decode_image, kind_for_target, open_source
from .store import MAPS, SCHEMA, RunResults, read_map, write_parquet

__all__ = [
    "explain_dataset",
    "RunSummary",
    "RunResults",
    "SCHEMA",
    "WorkItem",
    "Sample",
    "open_source",
    "run_in_process",
    "run_on_ray",
    "ray_session",
    "Manifest",
    "locked",
    "canonical_json",
    "model_key",
    "options_hash",
    "decode_image",
    "kind_for_target",
    "read_map",
    "write_parquet",
    "MAPS",
    "SOURCE_KINDS",
    "TARGETS",
]
