"""A standard Open Inference Protocol client (Triton's HTTP client) calls our predictor."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.models import Trained


def test_triton_http_client_binary_and_json(start, iris: Trained, houses: Trained) -> None:
    server = start(str(iris.path), "iris", "--version", "iris-v1")
    server.wait_until_ready()
    client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris")
    assert client.is_model_ready("iris", "iris-v1")
    assert not client.is_model_ready("iris", "iris-v0")
    metadata = client.get_model_metadata("iris")
    assert metadata["inputs"][0]["shape"] == [-1, 4]

    rows = np.asarray(iris.local_input, dtype=np.float64)
    binary_input = triton.InferInput("input-0", list(rows.shape), "FP64")
    binary_input.set_data_from_numpy(rows)  # the client's default: binary tensor data
    result = client.infer("iris", [binary_input])
    np.testing.assert_array_equal(result.as_numpy("predict"), iris.local_predict())
    result = client.infer("iris", [binary_input], model_version="iris-v1")
    np.testing.assert_array_equal(result.as_numpy("predict"), iris.local_predict())
    with pytest.raises(InferenceServerException, match="no version 'iris-v0'"):
        client.infer("iris", [binary_input], model_version="iris-v0")

    json_input = triton.InferInput("input-0", list(rows.shape), "FP64")
    json_input.set_data_from_numpy(rows, binary_data=False)
    result = client.infer(
        "iris", [json_input], outputs=[triton.InferRequestedOutput("predict_proba")]
    )
    np.testing.assert_allclose(
        result.as_numpy("predict_proba"), iris.local_predict("predict_proba")
    )
    client.close()
