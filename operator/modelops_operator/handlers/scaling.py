"""The autoscaler's latest decision per version, which a ModelVersion's reconcile reads
(in memory: after a restart, a version keeps the size its Deployment has until the
autoscaler decides again)."""

from __future__ import annotations

from modelops_operator.modelversion.reconcile import Scale
from modelops_operator.sync import Key

SCALES: dict[Key, Scale] = {}
