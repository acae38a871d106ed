"""What neuromask writes for people to read: one explained image as files, and report pages.

- :mod:`.record`: the per-image record (one JSON schema) and the writer of an explained
  image's ``.npy``, ``.png`` and ``.json``, used by ``neuromask explain`` and ``demo``,
  ``explain-dataset --per-image`` and the dashboard's zip.
- :mod:`.page`: a page of headings, paragraphs, lists, tables and pictures written as
  Markdown and as HTML, used by the benchmark's and the study's reports and by
  ``neuromask compare``.

Every file is written atomically (``neuromask._core``): an interrupted run leaves no half file.
"""

from .page import Cell, Page
from .record import NOT_RECORDED, Written, explanation_record, image_record, jsonable, write_image_files

__all__ = [
    "Cell",
    "Page",
    "NOT_RECORDED",
    "Written",
    "explanation_record",
    "image_record",
    "jsonable",
    "write_image_files",
]
