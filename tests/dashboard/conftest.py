"""The dashboard's explanation thread uses one torch thread in these tests (set before it starts).

The tests share a loaded machine; see ``neuromask.dashboard.logic.THREADS_ENV`` for the
measurement behind this.
"""

import os

os.environ.setdefault("NEUROMASK_DASHBOARD_THREADS", "1")
