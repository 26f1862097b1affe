"""Metrics both ways a trainer reports them: the JSON file (report_metrics) and
cloudml-hypertune's metric file, written here by the real library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelops_contracts.training import HYPERTUNE_FILE, METRICS_FILE
from modelops_runtime.training import report_metrics
from modelops_runtime.training.metrics import (
    MetricsError,
    parse_hypertune,
    parse_metrics_json,
    read_metrics,
)


def _hypertune_writes(path: Path, reports: list[tuple[str | None, float, int]]) -> None:
    """Run cloudml-hypertune itself, as a trainer would, in a child process."""
    calls = "; ".join(
        f"h.report_hyperparameter_tuning_metric(hyperparameter_metric_tag={tag!r}, "
        f"metric_value={value!r}, global_step={step})"
        for tag, value, step in reports
    )
    subprocess.run(
        [sys.executable, "-c", f"import hypertune; h = hypertune.HyperTune(); {calls}"],
        env={HYPERTUNE_FILE: str(path)},
        check=True,
    )


def test_hypertune_lines_give_the_last_value_of_each_tag(tmp_path: Path) -> None:
    path = tmp_path / "hypertune" / "output.metrics"
    _hypertune_writes(path, [("auc", 0.7, 1), ("auc", 0.81, 2), ("rmse", 3.5, 2), (None, 0.5, 3)])
    assert len(path.read_text().splitlines()) == 4
    assert parse_hypertune(path.read_text()) == {
        "auc": 0.81,
        "rmse": 3.5,
        "training/hptuning/metric": 0.5,
    }


def test_hypertune_fields_that_are_not_metrics_are_skipped() -> None:
    line = {"timestamp": 1.5, "trial": "3", "global_step": "10", "checkpoint_path": "", "f1": "0.5"}
    assert parse_hypertune(json.dumps(line) + "\n\n") == {"f1": 0.5}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "line 1 is not JSON"),
        ('{"auc": "0.9"}\n[1]', "line 2 is not a JSON object"),
        ('{"auc": "nan"}', "auc='nan' is not a finite number"),
        ('{"auc": "high"}', "auc='high'"),
    ],
)
def test_bad_hypertune_lines_are_named(text: str, says: str) -> None:
    with pytest.raises(MetricsError, match=says):
        parse_hypertune(text)


def test_the_metrics_file_is_one_object_of_numbers() -> None:
    assert parse_metrics_json('{"auc": 0.9, "n": 3}') == {"auc": 0.9, "n": 3.0}
    assert parse_metrics_json("  \n") == {}
    with pytest.raises(MetricsError, match="must hold a JSON object, not list"):
        parse_metrics_json("[0.9]")
    with pytest.raises(MetricsError, match="is not JSON"):
        parse_metrics_json("{auc: 0.9}")
    with pytest.raises(MetricsError, match=r"auc='0.9', ok=True"):
        parse_metrics_json('{"auc": "0.9", "ok": true, "n": 1}')
    with pytest.raises(MetricsError, match="loss=nan"):
        parse_metrics_json('{"loss": NaN}')


def test_the_metrics_file_wins_over_hypertune_for_a_name_both_report(tmp_path: Path) -> None:
    metrics, hypertune = tmp_path / "metrics.json", tmp_path / "output.metrics"
    assert read_metrics(metrics, hypertune) == {}
    hypertune.write_text('{"auc": "0.7", "trial": "0"}\n{"rmse": "2.0"}\n')
    metrics.write_text('{"auc": 0.9}')
    assert read_metrics(metrics, hypertune) == {"auc": 0.9, "rmse": 2.0}


def test_report_metrics_adds_up_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m" / "metrics.json"
    monkeypatch.setenv(METRICS_FILE, str(path))
    report_metrics(auc=0.91)
    report_metrics({"val.auc": np.float32(0.5), "auc": 0.92}, log_loss=np.float64(0.3))
    assert json.loads(path.read_text()) == {"auc": 0.92, "log_loss": 0.3, "val.auc": 0.5}
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no partial file left


@pytest.mark.parametrize("bad", ["0.9", True, float("inf"), None, [0.9]])
def test_report_metrics_refuses_what_is_not_a_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: object
) -> None:
    monkeypatch.setenv(METRICS_FILE, str(tmp_path / "metrics.json"))
    with pytest.raises(MetricsError, match="report_metrics: metrics must be finite numbers"):
        report_metrics(auc=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "metrics.json").exists()


def test_report_metrics_outside_a_run_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(METRICS_FILE, raising=False)
    report_metrics(auc=0.5)
    assert "not recorded: MODELOPS_METRICS_FILE is not set" in capsys.readouterr().err


def test_importing_report_metrics_imports_nothing_heavy() -> None:
    """Trainers import it: the standard library and the contracts only."""
    code = (
        "import sys; from modelops_runtime.training import report_metrics; "
        "print(sorted(m for m in ('numpy', 'pandas', 'sklearn', 'boto3', "
        "'modelops_runtime.storage', 'modelops_runtime.models') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
