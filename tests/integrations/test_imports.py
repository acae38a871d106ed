"""What importing neuromask and its integrations pulls in: ``import neuromask`` imports
neither Captum, Quantus nor matplotlib; the Quantus integration does not import Quantus,
the Captum integration imports Captum (a core dependency) and not Quantus."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("captum", "quantus", "matplotlib")


def _imported_after(statement: str) -> list[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_neuromask_imports_no_integration_library() -> None:
    assert _imported_after("import neuromask") == []


def test_the_quantus_integration_needs_no_quantus() -> None:
    assert _imported_after("import neuromask.integrations.quantus") == []


def test_the_captum_integration_imports_captum_and_not_quantus() -> None:
    # Captum itself imports matplotlib (captum.attr's visualisation).
    assert _imported_after("import neuromask.integrations.captum")[:2] == ["captum", "matplotlib"]
