"""skops files load only with trusted types: any other type refuses the load, and
``MODELOPS_SKOPS_TRUSTED`` (exact type names added to the defaults, as docs/predictor.md
shows) trusts more; a module prefix there trusts nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from modelops_contracts.verdict import Verdict
from modelops_runtime.commands import main as runtime_main
from tests.api.conftest import Serve
from tests.crafted_skops import crafted
from tests.models import Trained

BUILT: list[str] = []  # every Doubler that skops built from a file


class Doubler(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A transformer from a module outside the trusted ones."""

    def fit(self, X: Any, y: Any = None) -> Doubler:
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) * 2

    def __setstate__(self, state: dict[str, Any]) -> None:
        BUILT.append(type(self).__qualname__)
        super().__setstate__(state)


UNTRUSTED = f"{Doubler.__module__}.Doubler"


@pytest.fixture(scope="module")
def doubled(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = load_iris(return_X_y=True)
    model = make_pipeline(Doubler(), LogisticRegression(max_iter=500)).fit(X, y)
    path = tmp_path_factory.mktemp("skops") / "doubled.skops"
    sio.dump(model, path)
    assert UNTRUSTED in sio.get_untrusted_types(file=path)
    sample = X[::15]
    return Trained("doubled", path, model, sample.tolist(), sample)


async def test_an_untrusted_type_refuses_the_load_and_is_never_built(
    serve: Serve, doubled: Trained
) -> None:
    BUILT.clear()
    async with serve(doubled.path, name="doubled") as client:
        ready = await client.get("/v2/health/ready")
        predict = await client.post("/v1/models/doubled:predict", json={"instances": doubled.rows})
        metadata = (await client.get("/v2/models/doubled")).json()
    assert ready.status_code == predict.status_code == 503
    assert metadata["parameters"]["reason"] == "UntrustedTypes"
    assert metadata["parameters"]["ready"] is False
    error = predict.json()["error"]
    assert UNTRUSTED in error
    assert "MODELOPS_SKOPS_TRUSTED" in error
    assert BUILT == []


async def test_trusting_its_type_serves_it(serve: Serve, doubled: Trained) -> None:
    BUILT.clear()
    env = {"MODELOPS_SKOPS_TRUSTED": UNTRUSTED}
    async with serve(doubled.path, name="doubled", env=env) as client:
        ready = await client.get("/v2/health/ready")
        predict = await client.post("/v1/models/doubled:predict", json={"instances": doubled.rows})
    assert ready.status_code == 200, ready.text
    assert predict.json()["predictions"] == doubled.local_predict().tolist()
    assert BUILT == ["Doubler"]


async def test_a_module_prefix_trusts_nothing_and_the_error_says_so(
    serve: Serve, doubled: Trained
) -> None:
    BUILT.clear()
    env = {"MODELOPS_SKOPS_TRUSTED": "tests."}
    async with serve(doubled.path, name="doubled", env=env) as client:
        predict = await client.post("/v1/models/doubled:predict", json={"instances": doubled.rows})
    assert predict.status_code == 503
    assert "tests.: a prefix trusts nothing" in predict.json()["error"]
    assert BUILT == []


def test_fetch_refuses_it_and_trusting_its_type_verifies_it(
    tmp_path: Path, doubled: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "termination-log"
    argv = ["fetch", str(doubled.path), "--dest", str(tmp_path / "shared")]
    argv += ["--termination-log", str(log)]
    code = runtime_main(argv)
    refused = Verdict.from_termination(log.read_text(), code)
    assert (code, refused.reason, refused.condition) == (1, "UntrustedTypes", "ArtifactVerified")
    assert UNTRUSTED in refused.message
    assert not (tmp_path / "shared" / "model").exists()

    monkeypatch.setenv("MODELOPS_SKOPS_TRUSTED", UNTRUSTED)
    code = runtime_main(argv)
    verified = Verdict.from_termination(log.read_text(), code)
    assert (code, verified.reason, verified.format) == (0, "Verified", "skops")
    assert json.loads(log.read_text())["reason"] == "Verified"


async def test_a_crafted_file_that_names_exec_runs_nothing_in_the_server_or_fetch(
    serve: Serve, tmp_path: Path
) -> None:
    sentinel = tmp_path / "ran"
    evil = crafted(tmp_path / "evil.skops", "builtins.exec", "ConstructorFromReduceNode",
                   sentinel)  # fmt: skip
    async with serve(evil, name="evil") as client:
        metadata = (await client.get("/v2/models/evil")).json()
    assert metadata["parameters"]["reason"] == "UntrustedTypes"
    log = tmp_path / "termination-log"
    code = runtime_main(["fetch", str(evil), "--dest", str(tmp_path / "shared"),
                         "--termination-log", str(log)])  # fmt: skip
    assert (code, Verdict.from_termination(log.read_text(), code).reason) == (1, "UntrustedTypes")
    assert not sentinel.exists()
