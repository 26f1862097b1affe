"""The little of the Kubernetes API the data plane needs, over plain HTTPS (no client library).

The predictor posts TokenReviews and SubjectAccessReviews; the activator lists and watches
Services, EndpointSlices and ModelVersions and patches a ModelVersion's annotation. Both
talk as the pod's own service account (the in-cluster files), which environment variables
can replace for tests and local runs:

- ``MODELOPS_KUBE_API``: the API server's URL (default ``https://$KUBERNETES_SERVICE_HOST:
  $KUBERNETES_SERVICE_PORT``);
- ``MODELOPS_KUBE_TOKEN_FILE``: the bearer token (default the service account's, re-read
  every minute, as the kubelet rotates it);
- ``MODELOPS_KUBE_CA_FILE``: the CA bundle that signs the API server's certificate.

Calls are blocking (``http.client``); callers run them in threads, off the event loop.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from modelops_contracts.serving import KUBE_API_ENV, KUBE_CA_FILE_ENV, KUBE_TOKEN_FILE_ENV

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_TOKEN_MAX_AGE = 60.0


class KubeError(Exception):
    """A call that failed: ``status`` is the API server's answer, None when none came."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class KubeConfig:
    server: str
    token_file: Path | None
    ca_file: Path | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KubeConfig:
        env = os.environ if env is None else env
        server = env.get(KUBE_API_ENV, "")
        if not server:
            host, port = (
                env.get("KUBERNETES_SERVICE_HOST", ""),
                env.get("KUBERNETES_SERVICE_PORT", "443"),
            )
            if not host:
                raise KubeError(
                    f"no Kubernetes API server: not in a pod (KUBERNETES_SERVICE_HOST is unset) "
                    f"and {KUBE_API_ENV} is not set"
                )
            server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        token = env.get(KUBE_TOKEN_FILE_ENV) or str(SERVICE_ACCOUNT / "token")
        ca = env.get(KUBE_CA_FILE_ENV) or str(SERVICE_ACCOUNT / "ca.crt")
        return cls(
            server=server.rstrip("/"),
            token_file=Path(token) if Path(token).exists() else None,
            ca_file=Path(ca) if Path(ca).exists() else None,
        )


class KubeClient:
    """Blocking JSON calls and watch streams to one API server, safe from many threads."""

    def __init__(self, config: KubeConfig, timeout: float = 5.0) -> None:
        self.config = config
        self.timeout = timeout
        parts = urlsplit(config.server)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._ssl: ssl.SSLContext | None = None
        if self._https:
            self._ssl = ssl.create_default_context(
                cafile=str(config.ca_file) if config.ca_file else None
            )
        self._token = ""
        self._token_read = 0.0
        self._local = threading.local()
        self._lock = threading.Lock()

    # --- plumbing ---------------------------------------------------------------------

    def _bearer(self) -> str:
        if self.config.token_file is None:
            return ""
        now = time.monotonic()
        with self._lock:
            if not self._token or now - self._token_read > _TOKEN_MAX_AGE:
                self._token = self.config.token_file.read_text().strip()
                self._token_read = now
            return self._token

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._ssl
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "modelops-runtime"}
        token = self._bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def where(self) -> str:
        return self.config.server

    # --- calls ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        """One call; the decoded JSON answer, or KubeError. A kept connection per thread."""
        payload = None if body is None else json.dumps(body).encode()
        headers = self._headers(content_type if payload is not None else None)
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            fresh = conn is None
            if conn is None:
                conn = self._local.conn = self._connect(timeout or self.timeout)
            conn.timeout = timeout or self.timeout
            try:
                conn.request(method, path, payload, headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                self._local.conn = None
                # A kept connection the server closed meanwhile: try once on a new one.
                if attempt == 1 and not fresh and not isinstance(err, TimeoutError):
                    continue
                raise KubeError(
                    f"the Kubernetes API server at {self.where()} did not answer: "
                    f"{type(err).__name__}: {err}"
                ) from err
            return _decode(response.status, data, method, path)
        raise AssertionError("unreachable")

    def stream(
        self,
        path: str,
        read_timeout: float,
        opened: Callable[[http.client.HTTPConnection], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The JSON objects of a watch, one per line, until the server ends it.

        ``read_timeout`` bounds a silent connection (a watch asked for bookmarks hears
        from the server at least every minute or so). ``opened`` receives the connection,
        so another thread can end the stream with ``shutdown(conn)``.
        """
        conn = self._connect(self.timeout)
        if opened is not None:
            opened(conn)
        try:
            conn.request("GET", path, None, self._headers(None))
            response = conn.getresponse()
            if response.status != 200:
                _decode(response.status, response.read(), "GET", path)
            if conn.sock is not None:
                conn.sock.settimeout(read_timeout)
            while True:
                line = response.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        except (OSError, http.client.HTTPException, ValueError) as err:
            raise KubeError(
                f"the watch {path} on {self.where()} broke: {type(err).__name__}: {err}"
            ) from err
        finally:
            conn.close()


def shutdown(conn: http.client.HTTPConnection) -> None:
    """Wake a thread blocked reading ``conn`` (closing alone does not)."""
    if conn.sock is not None:
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)


def _decode(status: int, data: bytes, method: str, path: str) -> Any:
    try:
        doc = json.loads(data) if data else {}
    except ValueError:
        doc = {"message": data[:300].decode(errors="replace")}
    if status >= 400:
        message = doc.get("message", "") if isinstance(doc, dict) else ""
        raise KubeError(f"{method} {path}: {status} {message}".strip(), status, doc)
    return doc
