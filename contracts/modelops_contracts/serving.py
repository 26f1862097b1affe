"""What the serving path's processes tell each other: the predictor's and the activator's
stats (read by the operator's autoscaler and rollout analysis), how the operator tells
the activator where a Service's requests go, and how the activator asks for a wake.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

STATS_PATH = "/modelops/stats"
"""Served by every predictor and activator pod: a JSON ``PodStats`` / ``ActivatorStats``."""

ROUTES_ANNOTATION = "modelops.dev/routes"
"""On a Service the operator manages (a Model's, or a version's public one): where its
requests go, as JSON ``[{"version": name, "percent": n}, ...]``. The activator reads it
when the Service's endpoints point at the activator."""
AUTH_ANNOTATION = "modelops.dev/auth"
"""On the same Services: the Model's auth mode (``AUTH_MODES``), so the activator asks a
caller for the credential before it wakes a version at zero for it."""
MODEL_LABEL = "modelops.dev/model"
"""On every object the operator makes for a Model, its Services included: the Model's
name (the activator reviews a caller's token for that Model's audience)."""
ACTIVATION_ANNOTATION = "modelops.dev/activation-requested"
"""On a ModelVersion: written by the activator (RFC 3339 time, UTC) when it holds a
request for the version and no pod of it is ready; the operator scales it up at once."""
WAKE_LEASE_SECONDS = 30.0
"""A wake keeps its version at one pod at least this long after the annotation's time.
While the activator still holds requests for the version and none of its pods is ready it
writes the annotation again (every third of this), so a pod slow to start, or to report
why it cannot, is never scaled away under a waiting request (Knative's activator reports
its queued requests to the autoscaler for the same reason)."""
PRIVATE_SUFFIX = "-private"
"""A version's private Service (``<version>-predictor-private``): selects its pods, so its
EndpointSlices list their addresses and readiness for the activator and the operator."""
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "modelops"
"""Every Service the operator makes carries ``MANAGED_BY_LABEL: MANAGER``; the EndpointSlice
controller copies a Service's labels onto its slices, so the private Services' slices
carry it too. The activator watches only objects with this label."""
PREDICTOR_PORT_NAME = "http"
"""The name of the predictor's port in its pods, Services and EndpointSlices."""
PREDICTOR_KEEP_ALIVE_SECONDS = 5.0
"""A predictor closes a keep-alive connection idle this long (uvicorn's own default); the
activator reuses a pooled connection only while it has been idle a second less."""
READINESS_PATH = "/v2/health/ready"
"""A predictor answers 200 here when it can serve predictions (the readiness probe, and
the activator's own probe of a new pod)."""
WAKE_BLOCKERS = ("ResourcesAvailable", "ArtifactVerified")
"""ModelVersion conditions that, when False, mean its pods cannot start (image pull, crash
loop, unschedulable, artifact refused): the activator answers 503 with the condition's
reason at once instead of holding requests for a pod that will not come."""
TARGET_HEADER = "X-Modelops-Service"
"""Names the Service a request was sent to (``namespace/name``), for clients whose Host
header does not (the Kubernetes API server's service proxy rewrites it)."""
WOKE_HEADER = "X-Modelops-Cold-Start"
"""On an answer the activator had to wait for a pod for: the seconds it held the request."""
API_KEY_HEADER = "X-API-Key"
TOKEN_HEADER = "X-Modelops-Token"
"""kubernetes auth: the caller's token, for clients that reach the predictor through the
API server's proxy (which authenticates the caller itself and drops its Authorization
header); ``Authorization: Bearer`` works everywhere else."""
"""apiKey: a key may come in this header, or as ``Authorization: Bearer <key>``."""
AUTH_MODE_ENV = "MODELOPS_AUTH_MODE"
"""none, apiKey or kubernetes: how the predictor checks who calls predict."""
API_KEYS_DIR_ENV = "MODELOPS_API_KEYS_DIR"
"""apiKey: a folder (the mounted Secret) whose files each hold one accepted key."""
AUTH_RESOURCE_ENV = "MODELOPS_AUTH_RESOURCE"
"""kubernetes: ``namespace/model``, the Model a caller must be allowed to predict on."""
AUTH_REVIEWER_ENV = "MODELOPS_AUTH_REVIEWER"
"""kubernetes: the URL the predictor sends a caller's token to for a decision (the
activator's ``REVIEW_PATH``); unset, it asks the API server itself."""
REVIEW_PATH = "/modelops/review"
"""On the activator's admin port: POST ``{"namespace", "model", "token"}``; the answer is
``{"allowed": true}`` or ``{"allowed": false, "status": 401 or 403, "reason", "error"}``
(503 when the API server cannot tell)."""
CACHE_DIR_ENV = "MODELOPS_CACHE_DIR"
PVC_ROOT_ENV = "MODELOPS_PVC_ROOT"
KUBE_API_ENV = "MODELOPS_KUBE_API"
"""kubernetes auth: the API server the predictor sends its reviews to (default the
in-cluster one), its token file and its CA bundle."""
KUBE_TOKEN_FILE_ENV = "MODELOPS_KUBE_TOKEN_FILE"
KUBE_CA_FILE_ENV = "MODELOPS_KUBE_CA_FILE"
RESERVED_ENV = (
    AUTH_MODE_ENV, API_KEYS_DIR_ENV, AUTH_RESOURCE_ENV, AUTH_REVIEWER_ENV, CACHE_DIR_ENV,
    PVC_ROOT_ENV,
    KUBE_API_ENV, KUBE_TOKEN_FILE_ENV, KUBE_CA_FILE_ENV,
    "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
)  # fmt: skip
"""What the operator (or the kubelet) sets on a predictor, and what would point its token
reviews at another API server: a version's ``predictor.env`` may not set them (refused at
apply: they would switch auth off or make a fake API server the judge of tokens), and
the operator's own come last anyway."""
AUTH_MODES = ("none", "apiKey", "kubernetes")
PREDICT_VERB = "create"
PREDICT_GROUP = "modelops.dev"
PREDICT_RESOURCE = "models"
PREDICT_SUBRESOURCE = "predict"
"""kubernetes: a caller may predict when RBAC lets it ``create`` ``models/predict`` in
group ``modelops.dev`` on the Model (by name, in the Model's namespace). The predictor's
service account needs ``create`` on ``tokenreviews`` and ``subjectaccessreviews``
(the built-in ClusterRole ``system:auth-delegator``)."""


def token_audience(namespace: str, model: str) -> str:
    """The audience a Kubernetes token must be bound to for a Model's predictors to accept
    it (``kubectl create token ACCOUNT --audience modelops.dev/NAMESPACE/MODEL``). A token
    for one Model is then worthless elsewhere: not at the API server (whose own audience it
    lacks), not at another Model's pods (which run their author's code and see it)."""
    return f"{PREDICT_GROUP}/{namespace}/{model}"


DRAIN_SECONDS_ENV = "MODELOPS_DRAIN_SECONDS"
"""After SIGTERM the predictor fails readiness at once and keeps answering until no
prediction came for this long (default 5), so endpoint removal can propagate, before it
stops taking connections; at most three times this long after SIGTERM."""
DRAIN_TIMEOUT_ENV = "MODELOPS_DRAIN_TIMEOUT_SECONDS"
"""Then it waits at most this long (default 20) for the requests it holds, and exits 0.
A pod's ``terminationGracePeriodSeconds`` must exceed three drains and this together."""


def private_service(version: str) -> str:
    """The private Service of a ModelVersion, whose EndpointSlices list its pods."""
    return f"{version}-predictor{PRIVATE_SUFFIX}"


@dataclass(frozen=True)
class PodStats:
    """A predictor pod's load: what the autoscaler averages across a version's pods."""

    in_flight: int
    """Predict requests being served now (not health probes, not metrics scrapes)."""
    requests: int
    """Predict requests answered since the pod started."""
    last_request: float
    """Unix time of the last answer; 0 before the first."""
    started: float
    draining: bool = False
    """The pod was told to stop: it finishes what it holds and takes nothing new."""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> PodStats:
        """Raises ValueError for anything but the shape ``to_json`` writes: a pod runs its
        model's code, so what it reports is checked like any input (no null, no string,
        no negative count, no infinity or NaN)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("pod stats must be a JSON object")
        draining = data.get("draining", False)
        if not isinstance(draining, bool):
            raise ValueError("draining must be a boolean")
        return cls(
            in_flight=_count(data, "in_flight"),
            requests=_count(data, "requests"),
            last_request=_time(data, "last_request"),
            started=_time(data, "started"),
            draining=draining,
        )


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a count (an integer, 0 or more), not {value!r}")
    return value


def _time(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (
            0 <= value < 1e11  # a Unix time, finite (NaN fails every comparison)
        )
    ):
        raise ValueError(f"{key} must be a Unix time in seconds, not {value!r}")
    return float(value)


LATENCY_BUCKETS_MS = (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
                      10000.0, 30000.0, 60000.0)  # fmt: skip


@dataclass(frozen=True)
class VersionTraffic:
    """What the activator proxied to one version since it started (counters only grow:
    the reader takes differences between two reads)."""

    namespace: str
    version: str
    requests: int = 0
    errors: int = 0
    """Answers with a 5xx status, and requests that got no answer (502/503/504 of ours)."""
    latency_counts: tuple[int, ...] = ()
    """Cumulative counts per LATENCY_BUCKETS_MS bound, then one for +Inf, of the upstream
    latency: from sending the request to a pod to having its whole answer (the time a
    request was held waiting for a pod is not in it)."""
    held: int = 0
    """Requests waiting now for a pod of the version to be ready."""
    wakes: int = 0


@dataclass(frozen=True)
class ActivatorStats:
    versions: tuple[VersionTraffic, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps({"versions": [asdict(v) for v in self.versions]})

    @classmethod
    def from_json(cls, text: str | bytes) -> ActivatorStats:
        data: Any = json.loads(text)
        return cls(
            tuple(
                VersionTraffic(
                    namespace=str(v["namespace"]),
                    version=str(v["version"]),
                    requests=int(v.get("requests", 0)),
                    errors=int(v.get("errors", 0)),
                    latency_counts=tuple(int(c) for c in v.get("latency_counts", ())),
                    held=int(v.get("held", 0)),
                    wakes=int(v.get("wakes", 0)),
                )
                for v in data.get("versions", [])
            )
        )


@dataclass(frozen=True)
class Route:
    version: str
    percent: int


def routes_to_json(routes: list[Route]) -> str:
    return json.dumps([asdict(r) for r in routes], separators=(",", ":"))


def routes_from_json(text: str) -> list[Route]:
    return [Route(str(r["version"]), int(r["percent"])) for r in json.loads(text)]
