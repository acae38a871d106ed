"""Count the public names in the built API reference and check every name of ``neuromask.__all__`` is there.

Usage: ``python docs/check_api.py docs/_build/html`` (``make docs`` runs it). Prints one
line with the counts; exits 1 naming what is missing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import neuromask


def main(html: str) -> int:
    ids: set[str] = set()
    for page in Path(html, "api").glob("*.html"):
        ids |= set(re.findall(r'<dt class="sig sig-object py" id="([\w.]+)"', page.read_text(encoding="utf-8")))
    wanted = {f"neuromask.{name}" for name in neuromask.__all__}
    missing = sorted(wanted - ids)
    objects = ids
    print(
        f"API reference: {len(wanted & ids)} of the {len(wanted)} names of neuromask.__all__ documented; "
        f"{len(objects)} documented objects in all"
    )
    if missing:
        print(f"missing from the API reference: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
