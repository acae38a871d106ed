"""The web dashboard (``neuromask dashboard``, extra ``neuromask[dashboard]``).

- :mod:`.logic`: everything the pages compute, as plain functions (no Streamlit): read an
  upload, the top classes, run one method with its scores, the overlays on one shared
  colour scale, the download archive, and the tables of a results folder;
- ``_app.py``: the Streamlit script (a script, not a module to import), two pages (Explain, Results) that call the logic.

``APP_PATH`` is the script that ``streamlit run`` serves (and that Streamlit's
``AppTest`` drives in the tests).
"""

from __future__ import annotations

from pathlib import Path

APP_PATH = Path(__file__).with_name("_app.py")

__all__ = ["APP_PATH"]
