"""Studies: experiments that answer a question about explanations with numbers.

``bnn``: do explanations survive binarization? (Widdicombe & Julier, 2021) ::

    from neuromask.studies import run_bnn_study
    summary = run_bnn_study("out/bnn", quick=True)   # also: neuromask study bnn --quick --out DIR

Its two configurations are ``neuromask.studies.config.QUICK`` and ``neuromask.studies.config.FULL``
(:class:`StudyConfig`); pass your own with ``config=``.
"""

from .bnn import run_bnn_study
from .config import StudyConfig

__all__ = ["StudyConfig", "run_bnn_study"]
