"""The protocol-agnostic data plane: load one model, answer predictions and metadata.

HTTP endpoints only translate; everything a prediction does happens here: model lookup,
readiness, input adaptation, batching, and the model call off the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelops_runtime.artifacts import Artifact, installed_framework_versions
from modelops_runtime.batching import Batcher
from modelops_runtime.errors import (
    ArtifactError,
    InvalidInput,
    ModelFailed,
    ModelNotFound,
    ModelNotReady,
)
from modelops_runtime.metrics import PredictorMetrics
from modelops_runtime.models import InputKind, InputSchema, Model
from modelops_runtime.models.inputs import (
    array_to_input,
    check_rows,
    columns_to_input,
    input_problem,
    rows_to_input,
)
from modelops_runtime.prefetch import Prefetch
from modelops_runtime.preparation import prepare
from modelops_runtime.settings import Settings
from modelops_runtime.stats import PodCounters

log = logging.getLogger("modelops.predictor")


@dataclass
class ModelState:
    name: str
    model_version: str = ""
    """The version this server serves (the ModelVersion's name); '' when started without."""
    ready: bool = False
    reason: str = "loading"
    message: str = "the model is loading"
    model: Model | None = None
    artifact: Artifact | None = None
    load_seconds: float = 0.0
    installed_framework_versions: dict[str, str] = field(
        default_factory=installed_framework_versions
    )


@dataclass(frozen=True)
class Prediction:
    outputs: np.ndarray
    method: str


class DataPlane:
    def __init__(
        self,
        settings: Settings,
        metrics: PredictorMetrics | None = None,
        prefetch: Prefetch | None = None,
    ) -> None:
        self.settings = settings
        self.prefetch = prefetch
        self.metrics = metrics or PredictorMetrics()
        self.pod = PodCounters()
        # Read at scrape time from the same counter the stats answer: nothing on the hot path.
        self.metrics.in_flight.set_function(lambda: self.pod.in_flight)
        self.state = ModelState(name=settings.model_name, model_version=settings.model_version)
        self._reject_nulls = settings.nan_policy == "reject"
        self.batcher = Batcher(
            self._run_batch,
            max_batch_size=settings.max_batch_size,
            max_wait_s=settings.max_batch_wait_ms / 1000.0,
            on_batch=self.metrics.batch_rows.observe,
        )

    # --- loading -------------------------------------------------------------------------

    def load(self) -> ModelState:
        """Fetch, verify and load the model; failures leave the state not-ready with why."""
        started = time.perf_counter()
        state = self.state
        try:
            if self.prefetch is not None:
                self.prefetch.wait()  # the fetch below then finds the download in the cache
            prepared = prepare(self.settings)
        except ArtifactError as err:
            state.reason, state.message = err.reason, str(err)
            log.error("model not served", extra={"reason": err.reason, "error": str(err)})
            return state
        state.artifact, state.model = prepared.artifact, prepared.loaded.model
        state.load_seconds = time.perf_counter() - started
        self.metrics.model_load_seconds.set(state.load_seconds)
        for problem in prepared.loaded.framework_version_problems:
            log.warning("framework version mismatch allowed", extra={"problem": problem})
        state.ready, state.reason, state.message = True, "Ready", "the model is ready"
        self.metrics.model_ready.set(1)
        log.info(
            "model loaded",
            extra={
                "model": state.name,
                "model_version": state.model_version,
                "format": state.artifact.format.value,
                "framework": state.model.framework,
                "model_type": state.model.model_type,
                "recorded_versions": state.artifact.metadata.framework_versions,
                "runtime_versions": state.installed_framework_versions,
                "load_seconds": round(state.load_seconds, 4),
            },
        )
        return state

    # --- answering -----------------------------------------------------------------------

    def state_of(self, name: str, model_version: str | None = None) -> ModelState:
        """The served model's state, if ``name`` (and ``model_version``, when a request
        names one) is what this server serves; otherwise a 404 saying what it serves."""
        state = self.state
        if name != state.name:
            raise ModelNotFound(
                f"model {name!r} is not served here; this server serves {state.name!r}"
            )
        if model_version is not None and model_version != state.model_version:
            if state.model_version:
                serves = f"it serves version {state.model_version!r}"
            else:
                serves = (
                    "this server was started without a version (--version), so it serves "
                    "none by name; leave the version out of the request"
                )
            raise ModelNotFound(f"model {name!r} has no version {model_version!r} here; {serves}")
        return state

    def model_for(self, name: str) -> Model:
        self.state_of(name)
        if not self.state.ready or self.state.model is None:
            raise ModelNotReady(f"model {name!r} is not ready: {self.state.message}")
        return self.state.model

    def method_for(self, model: Model, requested: Any) -> str:
        method = self.settings.default_method if requested in (None, "") else requested
        if method not in model.methods:
            choices = list(model.methods)
            raise InvalidInput(f"method {method!r} is not available; choose one of {choices}")
        return str(method)

    async def predict_rows(self, name: str, rows: Any, method: Any = None) -> Prediction:
        """Rows of a V1 request (lists of values or JSON objects)."""
        model = self.model_for(name)
        chosen = self.method_for(model, method)
        kind = check_rows(rows, model.schema)
        return await self._submit(chosen, ("rows", kind), rows, len(rows))

    async def predict_array(self, name: str, array: np.ndarray, method: Any = None) -> Prediction:
        """One typed tensor of a V2 request, [rows, features]."""
        return await self._predict_input(
            name, method, lambda schema: array_to_input(array, schema, self._reject_nulls)
        )

    async def predict_columns(
        self, name: str, columns: dict[str, list[Any]], method: Any = None
    ) -> Prediction:
        """Named columns of a V2 request (``content_type: pd`` or one tensor per feature)."""
        return await self._predict_input(
            name, method, lambda schema: columns_to_input(columns, schema, self._reject_nulls)
        )

    async def _predict_input(
        self, name: str, method: Any, convert: Callable[[InputSchema], Any]
    ) -> Prediction:
        model = self.model_for(name)
        chosen = self.method_for(model, method)
        model_input = convert(model.schema)
        key = ("input", type(model_input).__name__, _width(model_input))
        return await self._submit(chosen, key, model_input, len(model_input))

    async def _submit(
        self, method: str, key: tuple[Hashable, ...], payload: Any, rows: int
    ) -> Prediction:
        outputs = await self.batcher.submit((method, *key), payload, rows)
        return Prediction(outputs=outputs, method=method)

    def _run_batch(self, key: Hashable, payloads: list[Any]) -> list[np.ndarray]:
        """In the model thread: merge the requests, call the model once, split the outputs."""
        assert isinstance(key, tuple)
        model = self.state.model
        if model is None:
            raise ModelNotReady("the model was unloaded")
        method, source = key[0], key[1]
        started = time.perf_counter()
        if source == "rows":
            merged_rows = payloads[0] if len(payloads) == 1 else [r for p in payloads for r in p]
            model_input = rows_to_input(merged_rows, model.schema, self._reject_nulls)
        else:
            model_input = _merge_inputs(payloads)
        sizes = [len(p) for p in payloads]
        try:
            outputs = model.call(model_input, method)
        except Exception as err:
            problem = input_problem(model_input)
            if problem is not None:
                raise InvalidInput(f"{problem}, and the model refused it: {err}") from err
            raise ModelFailed(f"the model raised {type(err).__name__}: {err}") from err
        self.metrics.predict.observe(time.perf_counter() - started)
        if len(outputs) != sum(sizes):
            raise ModelFailed(f"the model returned {len(outputs)} outputs for {sum(sizes)} rows")
        return _split(outputs, sizes)

    async def close(self) -> None:
        await self.batcher.close()


def _width(model_input: Any) -> Hashable:
    if isinstance(model_input, np.ndarray):
        return model_input.shape[1] if model_input.ndim == 2 else None
    columns = getattr(model_input, "columns", None)
    return tuple(columns) if columns is not None else None


def _merge_inputs(payloads: list[Any]) -> Any:
    if len(payloads) == 1:
        return payloads[0]
    first = payloads[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(payloads)
    if isinstance(first, list):
        return [row for payload in payloads for row in payload]
    import pandas as pd

    return pd.concat(payloads, ignore_index=True)


def _split(outputs: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    if len(sizes) == 1:
        return [outputs]
    parts, start = [], 0
    for size in sizes:
        parts.append(outputs[start : start + size])
        start += size
    return parts


__all__ = ["DataPlane", "InputKind", "ModelState", "Prediction"]
