"""The evaluation hook's process, run in this one: what it writes for each outcome."""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelops_runtime.training import hook

HOOKS = """
import sys

def evaluate(model):
    return {"score": model["C"], "argc": len(sys.argv[1:])}

def exits(model):
    raise SystemExit(2)

def not_a_dict(model):
    return 0.9

def not_numbers(model):
    return {"auc": "high"}
"""


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    (tmp_path / "hooks_under_test.py").write_text(HOOKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # the hook sets the trainer's
    candidate, baseline = tmp_path / "c" / "model.pkl", tmp_path / "b" / "model.pkl"
    for path, c in ((candidate, 2.0), (baseline, 1.0)):
        path.parent.mkdir()
        path.write_bytes(pickle.dumps({"C": c}))
    yield candidate, baseline
    sys.modules.pop("hooks_under_test", None)


def _run(tmp_path: Path, models: tuple[Path, Path], spec: str, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "scores.json"
    argv = ["--hook", spec, *extra, "--candidate", str(models[0]),
            "--baseline", str(models[1].parent), "--out", str(out),
            "--", "--job-dir", "/m", "--C=2"]  # fmt: skip
    code = hook.main(argv)
    return code, json.loads(out.read_text())


def test_both_models_scored_with_the_trainers_arguments(tmp_path, models) -> None:
    assert _run(tmp_path, models, "hooks_under_test:evaluate") == (0, {
        "hook": "hooks_under_test:evaluate",
        "candidate": {"score": 2.0, "argc": 3.0},
        "baseline": {"score": 1.0, "argc": 3.0},
    })  # fmt: skip


def test_a_default_hook_that_is_not_defined(tmp_path, models) -> None:
    assert _run(tmp_path, models, "hooks_under_test:absent", "--if-defined") == (0, {"hook": None})
    code, found = _run(tmp_path, models, "hooks_under_test:absent")
    assert (code, found) == (1, {"error": "hooks_under_test has no function absent"})


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("exits", "hooks_under_test:exits raised on this run's model: SystemExit: 2"),
        ("not_a_dict", "hooks_under_test:not_a_dict returned float for this run's model; return "
                       "a dict of metric name to number, e.g. {'auc': 0.91}"),
        ("not_numbers", "hooks_under_test:not_numbers: metrics must be finite numbers; "
                        "got auc='high'"),
    ],
)  # fmt: skip
def test_a_hook_that_fails(tmp_path, models, function: str, error: str) -> None:
    assert _run(tmp_path, models, f"hooks_under_test:{function}") == (1, {"error": error})


def test_a_module_that_does_not_import(tmp_path, models) -> None:
    code, found = _run(tmp_path, models, "no_such_module_here:evaluate")
    assert code == 1
    assert found["error"].startswith("cannot import no_such_module_here: ModuleNotFoundError")


def test_a_serving_model_that_does_not_load(tmp_path, models) -> None:
    models[1].write_bytes(b"\x80\x04 not a whole pickle")
    code, found = _run(tmp_path, models, "hooks_under_test:evaluate")
    assert code == 1
    assert found["error"].startswith(
        "cannot load the serving version's model to score it: model.pkl could not be unpickled"
    )
