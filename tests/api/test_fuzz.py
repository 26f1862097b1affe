"""Schemathesis fuzzes the predictor in-process from its own OpenAPI description (``GET
/openapi.json``), every route of V1 and V2, against a real scikit-learn pipeline and a real
XGBoost Booster (tests/fuzzing.py says which cases). No answer may be a 5xx but the
model's own failure (500 ``ModelError``), every answer must be one the description allows,
and afterwards the server answers and keeps no memory for what it answered: sending every
case again twice, the process holds no more after the second time than after the first.
The cases run are printed and recorded (``fuzz_cases``, in the JUnit report)."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest

from modelops_runtime.app import create_app
from modelops_runtime.dataplane import DataPlane
from modelops_runtime.settings import Settings
from tests import fuzzing
from tests.models import Trained

HOST = "http://testserver"  # schemathesis' ASGI client's


# A bound for a stall, not for speed: the cases are counted (tests/fuzzing.py), and they
# take ~40 s on quiet cores but over 130 s beside five other workers on two.
@pytest.mark.timeout(420)
@pytest.mark.parametrize("model", ["iris", "booster_json"])
def test_no_request_is_a_server_error_but_the_models_own(
    model: str, request: pytest.FixtureRequest, tmp_path: Path, record_property: Any
) -> None:
    import schemathesis

    trained: Trained = request.getfixturevalue(model)
    settings = Settings.from_env(
        {}, model_uri=str(trained.path), model_name=trained.name,
        model_version=fuzzing.VERSION, cache_dir=tmp_path / "cache",
    )  # fmt: skip
    plane = DataPlane(settings)
    plane.load()
    app = create_app(settings, plane=plane, load_in_background=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)

    fuzzed = fuzzing.run(
        schema, trained, lambda case: case.call(), base_url=HOST, storage=tmp_path / "hypothesis"
    )

    client = schemathesis.python.asgi.get_client(app)
    with client:
        used = [replay(client, fuzzed.sent)]  # the first warms what stays (caches, arenas)
        used.append(replay(client, fuzzed.sent))
        live = client.get(f"{HOST}/v2/health/live")
        predicted = client.post(f"{HOST}/v1/models/{trained.name}:predict",
                                json={"instances": trained.rows})  # fmt: skip
    print(f"\n{fuzzed.report(model)}\nsent again twice: the process held "
          f"{used[0] / 2**20:.1f}, then {used[1] / 2**20:.1f} MiB")  # fmt: skip
    record_property("fuzz_cases", fuzzed.cases)
    record_property("fuzz_answers", fuzzed.statuses())
    assert live.status_code == 200
    assert predicted.status_code == 200, predicted.text
    assert used[1] - used[0] < 16 * 2**20, "the server keeps memory for what it answered"


def replay(client: Any, sent: list[dict[str, Any]]) -> int:
    """Send every fuzzed request again; the process's resident memory after."""
    for kwargs in sent:
        client.request(**kwargs)
    gc.collect()
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")
