"""The resources the Airflow operators apply for a DAG run, built without Airflow or a
cluster: the TrainingJob of a logical date, a ModelVersion from an artifact URI, and the
CRD plurals Airflow's own KubernetesCreateResourceOperator derives from a kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from modelops_airflow import manifests
from modelops_operator.api import MODEL, MODEL_VERSION, TRAINING_JOB
from modelops_operator.api.schema import parse
from modelops_operator.api.trainingjob import Promotion, TrainingJobSpec

ROOT = Path(__file__).resolve().parents[3]
DAY = datetime(2025, 1, 15, tzinfo=UTC)


def spec(**fields: object) -> TrainingJobSpec:
    return manifests.training_spec(
        model="ctr",
        package="s3://models/ctr/packages/t.whl",
        module="trainer.train",
        **fields,  # type: ignore[arg-type]
    )


def test_a_dag_run_trains_once_dated_its_logical_date() -> None:
    found = manifests.training_job(
        "ml", manifests.run_name("ctr", DAY), spec(args=["--data=s3://d", 7]), DAY
    )
    assert found["apiVersion"] == "modelops.dev/v1alpha1"
    assert found["kind"] == "TrainingJob"
    assert found["metadata"] == {"name": "ctr-20250115", "namespace": "ml"}
    assert found["spec"] == {
        "model": "ctr",
        "package": "s3://models/ctr/packages/t.whl",
        "module": "trainer.train",
        "args": ["--data=s3://d", "7"],
        "runDate": "2025-01-15T00:00:00Z",
    }
    assert parse(TrainingJobSpec, found["spec"]).run_date == "2025-01-15T00:00:00Z"


def test_the_run_date_is_utc_whatever_zone_the_logical_date_is_in() -> None:
    paris = DAY.astimezone(timezone(timedelta(hours=1)))
    assert manifests.run_date(paris) == "2025-01-15T00:00:00Z"
    assert manifests.run_name("ctr", paris) == "ctr-20250115"
    assert manifests.run_name("ctr", DAY + timedelta(hours=3, minutes=30)) == "ctr-20250115-0330"
    with pytest.raises(ValueError, match="no time zone"):
        manifests.run_date(datetime(2025, 1, 15))


def test_a_name_the_api_would_refuse_is_refused_here_with_the_rule() -> None:
    with pytest.raises(ValueError, match="lowercase letters, digits"):
        manifests.run_name("CTR_model", DAY)
    with pytest.raises(ValueError, match="at most 52"):
        manifests.run_name("c" * 45, DAY)


def test_the_promotion_policy_is_the_typed_api_s_from_a_dict_or_a_dataclass() -> None:
    as_dict = spec(promotion={"metric": "auc", "goal": "maximize", "mode": "manual"})
    typed = spec(promotion=Promotion(metric="auc", goal="maximize", mode="manual"))
    assert as_dict.promotion == typed.promotion
    body = manifests.training_job("ml", "ctr-20250115", as_dict, DAY)["spec"]
    assert body["promotion"] == {"metric": "auc", "goal": "maximize", "mode": "manual"}


def test_other_spec_fields_pass_through_and_a_schedule_is_refused() -> None:
    extra = {"env": [{"name": "A", "value": "1"}], "activeDeadlineSeconds": 600}
    body = manifests.training_job("ml", "ctr-20250115", spec(extra=extra), DAY)["spec"]
    assert body["env"] == [{"name": "A", "value": "1"}]
    assert body["activeDeadlineSeconds"] == 600
    with pytest.raises(ValueError, match="leave schedule to Airflow"):
        manifests.training_job("ml", "x", spec(extra={"schedule": {"cron": "0 3 * * *"}}), DAY)


def test_a_version_from_an_artifact_uri_may_be_held_for_the_gate() -> None:
    free = manifests.model_version(
        "ml", "ctr-v4", model="ctr", artifact_uri="s3://m/ctr/v4/", sha256="ab" * 32
    )
    assert free["kind"] == "ModelVersion"
    assert free["spec"] == {
        "model": "ctr",
        "artifact": {"uri": "s3://m/ctr/v4/", "sha256": "ab" * 32},
    }
    assert "labels" not in free["metadata"]
    held = manifests.model_version(
        "ml", "ctr-v4", model="ctr", artifact_uri="s3://m/ctr/v4/", held=True, runtime_version="dev"
    )
    assert held["metadata"]["labels"] == {"modelops.dev/promotion": "pending"}
    assert held["spec"]["runtimeVersion"] == "dev"


@pytest.mark.parametrize("kind", [MODEL, MODEL_VERSION, TRAINING_JOB])
def test_plurals_are_regular_so_airflow_s_own_resource_operator_finds_them(kind: object) -> None:
    """KubernetesCreateResourceOperator takes the plural as ``kind.lower() + "s"``."""
    plural = kind.kind.lower() + "s"  # type: ignore[attr-defined]
    assert kind.plural == plural  # type: ignore[attr-defined]
    crd = yaml.safe_load((ROOT / "crds" / f"modelops.dev_{plural}.yaml").read_text())
    assert crd["spec"]["names"]["plural"] == plural
    assert crd["spec"]["names"]["kind"] == kind.kind  # type: ignore[attr-defined]
