"""A body over ``max_body_bytes`` is a 413 with a message on every route, declared or
streamed (chunked, with no Content-Length), and is refused before it is all read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import orjson
import pytest

from tests.api.conftest import Serve
from tests.models import Trained

LIMIT = 4096
CHUNK = 512


class Body:
    """A request body sent in chunks, counting how many the server asked for."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), CHUNK):
            self.sent += 1
            yield self.data[start : start + CHUNK]

    @property
    def chunks(self) -> int:
        return -(-len(self.data) // CHUNK)


def v1_body(trained: Trained, copies: int) -> bytes:
    return orjson.dumps({"instances": trained.rows * copies})


def v2_body(trained: Trained, copies: int) -> bytes:
    rows = np.asarray(trained.rows * copies, dtype=np.float64)
    tensor = {"name": "x", "shape": list(rows.shape), "datatype": "FP64"}
    return orjson.dumps({"inputs": [{**tensor, "data": rows.ravel().tolist()}]})


ROUTES = [("/v1/models/iris:predict", v1_body), ("/v2/models/iris/infer", v2_body)]


@pytest.mark.parametrize(("path", "encode"), ROUTES)
async def test_a_streamed_body_over_the_limit_is_413(
    serve: Serve, iris: Trained, path: str, encode
) -> None:
    body = Body(encode(iris, 200))
    assert len(body.data) > 4 * LIMIT
    async with serve(iris.path, name="iris", max_body_bytes=LIMIT) as client:
        response = await client.post(path, content=body)
        after = await client.post(path, content=Body(encode(iris, 1)))
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json() == {
        "error": f"request body is over the limit of {LIMIT} bytes",
        "reason": "PayloadTooLarge",
    }
    assert body.sent <= LIMIT // CHUNK + 1 < body.chunks  # refused before the rest was read
    assert after.status_code == 200, after.text  # a streamed body under the limit is served


@pytest.mark.parametrize(("path", "encode"), ROUTES)
async def test_a_declared_length_over_the_limit_is_413_unread(
    serve: Serve, iris: Trained, path: str, encode
) -> None:
    body = Body(encode(iris, 200))
    headers = {"content-length": str(len(body.data))}
    async with serve(iris.path, name="iris", max_body_bytes=LIMIT) as client:
        response = await client.post(path, content=body, headers=headers)
        after = await client.post(path, content=encode(iris, 1))
    assert response.status_code == 413
    assert response.json()["error"] == (
        f"request body of {len(body.data)} bytes is over the limit of {LIMIT} bytes"
    )
    assert body.sent == 0
    assert after.status_code == 200, after.text


async def test_a_binary_tensor_body_over_the_limit_is_413(serve: Serve, iris: Trained) -> None:
    rows = np.asarray(iris.rows * 200, dtype=np.float64)
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": list(rows.shape),
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": rows.nbytes},
                }
            ]
        }
    )
    body = Body(header + rows.tobytes())
    async with serve(iris.path, name="iris", max_body_bytes=LIMIT) as client:
        response = await client.post(
            "/v2/models/iris/infer",
            content=body,
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
    assert response.status_code == 413
    assert response.json()["reason"] == "PayloadTooLarge"
