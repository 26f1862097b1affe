"""Fuzzing a server from the predictor's own OpenAPI description with schemathesis: the
cases (what fits the description, what breaks it, and what the served model takes) and
the one rule every answer keeps. Used by tests/api/test_fuzz.py (the app in-process) and
tests/integration/test_fuzz_processes.py (the predictor and the activator as processes).
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.models import Trained

VERSION = "v1"
"""The version the fuzzed predictor serves (``--version``)."""


@dataclass
class Fuzzed:
    """What a run sent and what it got: (route, status) counts, and every request as
    keyword arguments for a requests session (to send them all again)."""

    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    sent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(self.answers.values())

    def statuses(self) -> dict[int, int]:
        return dict(sorted(Counter(s for _, s in self.answers.elements()).items()))

    def report(self, title: str) -> str:
        lines = [f"{title}: {self.cases} cases, answers {self.statuses()}"]
        lines += [
            f"  {route}: {status} x{n}" for (route, status), n in sorted(self.answers.items())
        ]
        return "\n".join(lines)


def run(
    schema: Any,
    trained: Trained,
    call: Callable[[Any], Any],
    *,
    base_url: str,
    headers: dict[str, str] | None = None,
    predicting: int = 300,
    other: int = 15,
    storage: Path,
) -> Fuzzed:
    """Fuzz every route of ``schema`` (``predicting`` examples per predict or infer route,
    ``other`` per other route); ``call(case)`` sends a case and returns the response.
    Hypothesis keeps what it caches in ``storage`` (a test's tmp_path), not the checkout."""
    from hypothesis.configuration import set_hypothesis_home_dir
    from schemathesis.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    conformance = [status_code_conformance, content_type_conformance, response_schema_conformance]
    fuzzed = Fuzzed()

    def check(case: Any) -> None:
        response = call(case)
        fuzzed.answers[(case.operation.label, response.status_code)] += 1
        fuzzed.sent.append(case.as_transport_kwargs(base_url=base_url, headers=headers))
        assert_no_server_error(response, case.as_curl_command(headers=headers))
        case.validate_response(response, checks=conformance)

    set_hypothesis_home_dir(storage)
    served = {"name": trained.name, "model_version": VERSION}
    _fuzz(schema, served, valid_bodies(trained), check, predicting, other)
    return fuzzed


def assert_no_server_error(response: Any, curl: str) -> None:
    """A 5xx only for the model's own failure; every answer but a 200 in our error shape
    (``response``: schemathesis', whose headers are lists)."""
    status = response.status_code
    if status == 200:
        return
    assert response.headers.get("content-type") == ["application/json"], curl
    error = response.json()
    assert isinstance(error.get("error"), str), f"{curl}\n{response.text[:2000]}"
    assert status < 500 or (status, error.get("reason")) == (500, "ModelError"), (
        f"{curl}\n{status} {response.text[:2000]}"
    )


def _fuzz(
    schema: Any,
    served: dict[str, str],
    valid: dict[str, list[Any]],
    check: Callable[[Any], None],
    predicting: int,
    other: int,
) -> None:
    """Every route, with requests that fit the description (naming the served model and
    version, or, on a route that reads no body, any name); on the predict and infer
    routes also requests that break the description and requests the model takes
    (``valid``: per protocol, strategies of (body, media type, headers)), sent to the
    served model so that what varies is the body or a header."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    positive, negative = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
    for result in schema.get_all_operations():
        operation = result.ok()
        named = {k: v for k, v in served.items() if "{" + k + "}" in operation.path}
        posts = operation.method.upper() == "POST"
        strategies = [operation.as_strategy(positive, path_parameters=named)]
        if posts:
            strategies.append(operation.as_strategy(negative, path_parameters=named))
            strategies += [
                bodies.flatmap(
                    lambda drawn, operation=operation, named=named: operation.as_strategy(
                        positive, path_parameters=named, body=drawn[0], media_type=drawn[1],
                        headers=drawn[2],
                    )
                )
                for bodies in valid[operation.path.split("/")[1]]
            ]  # fmt: skip
        elif named:
            strategies.append(operation.as_strategy(positive))

        @settings(
            max_examples=predicting if posts else other,
            deadline=None,
            database=None,  # nothing written into the checkout
            derandomize=True,  # the same cases every run: counts and failures reproduce
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies))
        def each(case: Any) -> None:
            check(case)

        each()


def valid_bodies(trained: Trained) -> dict[str, list[Any]]:
    """Requests the model takes, drawn from its own rows: V1 instances (either method),
    V2 tensors of any float type (outputs as JSON or binary), and binary tensors."""
    from hypothesis import strategies as st

    rows = st.lists(st.sampled_from(trained.rows), min_size=1, max_size=8)
    method = st.sampled_from(["predict", "predict_proba"])
    width = len(trained.rows[0])

    def tensor(chosen: list[list[float]], datatype: str) -> dict[str, Any]:
        return {"name": "input-0", "shape": [len(chosen), width], "datatype": datatype,
                "data": [v for row in chosen for v in row]}  # fmt: skip

    def binary(chosen: list[list[float]]) -> tuple[bytes, str, dict[str, str]]:
        raw = struct.pack(f"<{len(chosen) * width}d", *(v for row in chosen for v in row))
        spec = {**tensor(chosen, "FP64"), "parameters": {"binary_data_size": len(raw)}}
        del spec["data"]
        head = json.dumps({"inputs": [spec]}).encode()
        length = {"Inference-Header-Content-Length": str(len(head))}
        return head + raw, "application/octet-stream", length

    outputs = st.lists(
        st.fixed_dictionaries({"name": method}, optional={
            "parameters": st.fixed_dictionaries({"binary_data": st.booleans()})}),
        max_size=1,
    )  # fmt: skip
    v1 = st.fixed_dictionaries({"instances": rows}, optional={"method": method})
    v2 = st.builds(
        lambda chosen, datatype, wanted: {"inputs": [tensor(chosen, datatype)],
                                          "outputs": wanted},
        rows, st.sampled_from(["FP16", "FP32", "FP64"]), outputs,
    )  # fmt: skip
    as_json = "application/json"
    return {
        "v1": [v1.map(lambda body: (body, as_json, None))],
        "v2": [v2.map(lambda body: (body, as_json, None)), rows.map(binary)],
    }
