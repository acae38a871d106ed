"""Studies: experiments that answer a question about explanations with numbers.

``bnn``: do explanations survive binarization? (Widdicombe & Julier, 2021) ::

    from neuromask.studies import run_bnn_study
    findings = run_bnn_study("out/bnn", quick=True)   # also: neuromask study bnn --quick --out DIR
"""

from .bnn import FULL, QUICK, StudyConfig, run_bnn_study

__all__ = ["FULL", "QUICK", "StudyConfig", "run_bnn_study"]
