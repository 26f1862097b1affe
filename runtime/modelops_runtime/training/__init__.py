"""The trainer entrypoint (``python -m modelops_runtime train``) and what trainers import.

A trainer needs only ``report_metrics`` from here; the rest is the entrypoint, one step
per module: ``package`` (download and install the trainer), ``environment`` (the trainer
contract's folders and variables), ``process`` (run a child, stream and keep its log),
``metrics``, ``discovery`` (the model in the model dir), ``evaluation`` and ``hook`` (score
the new and the serving model), ``publish`` (metadata.json and upload) and ``entrypoint``
(the recipe). Importing this package stays cheap: only the standard library.
"""

from modelops_runtime.training.metrics import report_metrics

__all__ = ["report_metrics"]
