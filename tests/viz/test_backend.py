"""Importing and using neuromask.viz leaves matplotlib's backend as the user set it."""

from __future__ import annotations

import subprocess
import sys


def test_viz_leaves_the_users_backend_alone(tmp_path) -> None:
    code = (
        "import matplotlib\n"
        "matplotlib.use('svg')  # what a notebook or a user chose\n"
        "import numpy as np\n"
        "import neuromask.viz.overlay, neuromask.viz.grid, neuromask.viz.charts, neuromask.viz.datasets\n"
        "from neuromask.viz.overlay import save_overlay\n"
        f"p = save_overlay({str(tmp_path / 'o.png')!r}, np.zeros((8, 8, 3)), np.eye(8))\n"
        "print(matplotlib.get_backend(), p.read_bytes()[:4] == b'\\x89PNG')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["svg", "True"]
