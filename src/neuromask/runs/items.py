"""Work items: what one result is, and the key that says whether it is already done.

A work item is (image, method, model, hash of the options). The options hashed are every
option the method runs with, as :func:`neuromask.resolve_options` gives them for the
model's input size (pixel-sized options scaled, the model's mean and std filled in: what
``explain()`` records), plus how the target is chosen, so a changed option, a changed
default, a changed scaling or another target mode is a new item, never a silent reuse of
an old result; the batch size is not part of it (every method gives a batch the same maps
as its images one by one).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

# Options that change how a run is shown, never its result.
_NOT_HASHED = ("progress",)


@dataclass(frozen=True)
class WorkItem:
    """One (image, method) result to compute.

    Attributes:
        image: the image's ID in its source.
        method: the registered method name.
        model: the model spec, as given.
        options_hash: :func:`options_hash` of the method's complete options.
    """

    image: str
    method: str
    model: str
    options_hash: str

    @property
    def key(self) -> str:
        """The item's identity in the manifest: the four fields, joined by a separator no ID contains."""
        return "\x1f".join((self.image, self.method, self.model, self.options_hash))

    @property
    def map_name(self) -> str:
        """The item's array name in the map store: a digest of its key (IDs may hold any character)."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:32]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, non-JSON values as their text: the same value, the same string."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def described_options(options: dict[str, Any], target: str) -> str:
    """The resolved options (those that change the result) and the target mode (``top1`` or
    ``class``) as canonical JSON: the ``options`` column of the results, and what
    :func:`options_hash` digests."""
    hashed = {k: v for k, v in options.items() if k not in _NOT_HASHED}
    return canonical_json({"options": hashed, "target": target})


def options_hash(options: dict[str, Any], target: str) -> str:
    """A short digest of the resolved options and the target mode (``top1`` or ``class``)."""
    return hashlib.sha256(described_options(options, target).encode()).hexdigest()[:16]
