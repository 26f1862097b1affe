"""The typed API generates the CRDs; the CRDs on disk are exactly what it generates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelops_operator.api import crds
from modelops_operator.api.common import Predictor
from modelops_operator.api.model import ModelSpec
from modelops_operator.api.modelversion import ModelVersionSpec
from modelops_operator.api.schema import camel, openapi, parse

REPO = Path(__file__).resolve().parents[3]


def test_camel_case_names():
    assert camel("default_version") == "defaultVersion"
    assert camel("sha256") == "sha256"
    assert camel("idle_timeout_seconds") == "idleTimeoutSeconds"


def test_required_fields_are_those_without_defaults():
    schema = openapi(ModelVersionSpec)
    assert schema["required"] == ["model", "artifact"]
    assert schema["properties"]["artifact"]["required"] == ["uri"]
    assert "required" not in openapi(ModelSpec)


def test_fields_carry_docs_validation_and_cel():
    props = openapi(ModelVersionSpec)["properties"]
    assert props["artifact"]["properties"]["sha256"]["pattern"] == "^[a-f0-9]{64}$"
    assert props["artifact"]["properties"]["format"]["enum"][0] == "joblib"
    assert props["model"]["x-kubernetes-validations"] == [
        {"rule": "self == oldSelf", "message": "model is immutable"}
    ]
    assert props["predictor"]["properties"]["minReplicas"]["minimum"] == 0
    assert all("description" in p for p in props.values())
    env = props["predictor"]["properties"]["env"]
    assert env["x-kubernetes-list-map-keys"] == ["name"]


def test_parse_fills_defaults_and_nested_types():
    spec = parse(
        ModelVersionSpec,
        {
            "model": "ctr",
            "artifact": {"uri": "s3://b/k"},
            "predictor": {"minReplicas": 2, "env": [{"name": "A", "value": "1"}]},
        },
    )
    assert spec.artifact.uri == "s3://b/k"
    assert spec.artifact.sha256 is None
    assert spec.allow_version_mismatch is False
    assert spec.predictor is not None
    assert spec.predictor.min_replicas == 2
    assert spec.predictor.env[0].name == "A"
    assert spec.labels == {}


def test_parse_empty_model_spec():
    spec = parse(ModelSpec, None)
    assert spec.default_version is None
    assert spec.traffic == ()
    assert parse(Predictor, {}) == Predictor()


def test_crds_have_columns_short_names_and_status():
    generated = crds.generate()
    mv = generated["modelops.dev_modelversions.yaml"]
    version = mv["spec"]["versions"][0]
    assert mv["spec"]["names"]["shortNames"] == ["mv"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[:5] == ["Model", "Phase", "Ready", "Replicas", "Desired"]
    assert generated["modelops.dev_models.yaml"]["spec"]["names"]["shortNames"] == ["mdl"]


def test_rendered_crds_have_no_yaml_anchors():
    for crd in crds.generate().values():
        text = crds.render(crd)
        assert "&id" not in text
        assert yaml.safe_load(text) == crd


@pytest.mark.parametrize("folder", ["crds", "charts/modelops/crds"])
def test_crds_on_disk_equal_generated(folder):
    assert crds.main(["--check", str(REPO / folder)]) == 0


def test_check_reports_drift(tmp_path, capsys):
    assert crds.main([str(tmp_path)]) == 0
    assert crds.main(["--check", str(tmp_path)]) == 0
    target = tmp_path / "modelops.dev_models.yaml"
    target.write_text(target.read_text() + "# edited\n")
    (tmp_path / "stale.yaml").write_text("{}")
    assert crds.main(["--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "modelops.dev_models.yaml" in err
    assert "stale.yaml" in err


def test_reference_doc_equals_generated(tmp_path):
    from modelops_operator.api import reference

    assert reference.main(["--check", str(REPO / "docs" / "reference.md")]) == 0
    text = reference.render()
    assert "| `artifact.sha256` | string |" in text
    assert "## ModelVersion (`kubectl get mv`)" in text
    stale = tmp_path / "reference.md"
    stale.write_text("old")
    assert reference.main(["--check", str(stale)]) == 1
