"""The smoke gate: ``make test`` runs it (with test_smoke_node.py) before everything else,
and stops the run when it fails, so that a broken build is red in minutes, with the
operator's and the activators' logs beside the failure, instead of every cluster test
waiting out its own timeout.

What it asks is the product's first promise, end to end: the chart installs (its operator
acts, its activators are ready), a version of a model trained here becomes Ready and
answers as ``model.predict`` does, and a TrainingJob trains a model on the cluster into a
version of its own.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.operator_support import (
    create,
    model_manifest,
    predict,
    upload,
    version_manifest,
    wait_condition,
)
from tests.e2e.test_training import submit, trainer_wheel, training_job, upload_wheel

__all__ = ["trainer_wheel"]  # the module's fixture, used here
pytestmark = [
    pytest.mark.smoke,
    pytest.mark.usefixtures("operator", "storage_secret"),
    pytest.mark.timeout(420),  # the install (≤ 180 s), a version Ready and a run, with room
]
GATE_WAIT = 150


def test_the_chart_serves_a_version_and_trains_a_run(
    cluster, namespace, s3, s3_bucket, iris, trainer_wheel
):
    package = upload_wheel(s3, s3_bucket, trainer_wheel)
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    create(cluster, namespace, model_manifest("iris"))
    create(cluster, namespace, version_manifest("iris-v1", "iris", uri, sha))
    create(cluster, namespace, model_manifest("tiny"))
    submit(cluster, namespace, training_job("tiny-gate", package, s3_bucket, args=["--C=0.5"]))

    wait_condition(cluster, namespace, "modelversions", "iris-v1", "Ready", "True",
                   timeout=GATE_WAIT)  # fmt: skip
    wait_condition(cluster, namespace, "models", "iris", "Ready", "True", timeout=60)
    remote = np.asarray(predict(namespace, "iris", iris.rows))
    np.testing.assert_array_equal(remote, iris.local_predict())

    done = wait_condition(cluster, namespace, "trainingjobs", "tiny-gate", "Succeeded", "True",
                          timeout=GATE_WAIT)  # fmt: skip
    assert done["status"]["version"] == "tiny-gate"
    assert done["status"]["metrics"]["auc"] > 0.9
