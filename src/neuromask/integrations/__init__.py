"""neuromask inside the tools people already use.

- :mod:`neuromask.integrations.captum`: every registered method as a Captum
  ``Attribution`` (``NeuroMask(model).attribute(inputs, target=...)``, ``NoiseTunnel``
  included).
- :mod:`neuromask.integrations.quantus`: :func:`~neuromask.integrations.quantus.explain_func`,
  the explanation function every Quantus metric takes.

Each submodule is imported on its own (``from neuromask.integrations.captum import
NeuroMask``); ``import neuromask`` imports neither.
"""
