"""The operator's configuration, read once from the environment (the chart sets it)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from modelops_contracts.serving import REVIEW_PATH

DEFAULT_INSTANCE = "default"


@dataclass(frozen=True)
class Settings:
    runtimes: dict[str, str] = field(
        default_factory=lambda: {"dev": "localhost/modelops-runtime:dev"}
    )
    """runtimeVersion → predictor image."""
    default_runtime: str = "dev"
    """The runtimeVersion of a ModelVersion that names none."""
    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty watches all."""
    storage_secret: str = ""
    """Secret (in each version's namespace) whose keys become the predictor's env: the S3
    endpoint and credentials. Optional in the pod: a missing Secret means no credentials."""
    image_pull_policy: str = "IfNotPresent"
    model_store: str = ""
    """Store prefix trained models are written under when a TrainingJob names none."""
    cluster_domain: str = "cluster.local"
    resync_seconds: float = 600.0
    """A safety net only: status follows the children's watch events, and this resync
    catches what a lost watch event would leave behind (as controller-runtime's periodic
    resync does)."""
    liveness_port: int = 8081
    metrics_port: int = 8082
    """Where ``/metrics`` answers (0: not served)."""
    activator_service: str = "modelops-activator"
    """The activator's Service, in ``operator_namespace``: its pods take the requests of
    versions at zero and of traffic splits."""
    activator_port: int = 8080
    activator_admin_port: int = 9090
    """Where the activator answers its stats (the rollout analysis reads them) and reviews
    tokens for predictors (``review_url``)."""
    operator_namespace: str = "modelops-system"
    instance: str = DEFAULT_INSTANCE
    """Which namespaces this install serves: those labelled ``modelops.dev/instance`` with
    this name, and, for the default instance, those without the label."""
    peering: str = f"modelops-{DEFAULT_INSTANCE}"
    """kopf peering object shared by the replicas of one install ("" runs standalone)."""
    watch_server_timeout: int = 300
    watch_client_timeout: int = 330
    package_index: tuple[str, ...] = ()
    """Where trainer packages' dependencies resolve when a TrainingJob names no index: the
    index, then any extra ones (chart value ``training.packageIndex``); empty: pip's own."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        runtimes = (
            json.loads(env["MODELOPS_RUNTIMES"])
            if env.get("MODELOPS_RUNTIMES")
            else defaults.runtimes
        )
        if not isinstance(runtimes, dict) or not runtimes:
            raise ValueError("MODELOPS_RUNTIMES must be a JSON object of runtimeVersion → image")
        default_runtime = env.get("MODELOPS_DEFAULT_RUNTIME") or next(iter(runtimes))
        if default_runtime not in runtimes:
            raise ValueError(
                f"MODELOPS_DEFAULT_RUNTIME {default_runtime!r} is not in MODELOPS_RUNTIMES"
            )
        instance = env.get("MODELOPS_INSTANCE") or DEFAULT_INSTANCE
        namespaces = _csv(env.get("MODELOPS_WATCH_NAMESPACES", ""))
        return cls(
            runtimes={str(k): str(v) for k, v in runtimes.items()},
            default_runtime=default_runtime,
            namespaces=namespaces,
            storage_secret=env.get("MODELOPS_STORAGE_SECRET", defaults.storage_secret),
            image_pull_policy=env.get("MODELOPS_IMAGE_PULL_POLICY", defaults.image_pull_policy),
            model_store=env.get("MODELOPS_MODEL_STORE", defaults.model_store),
            cluster_domain=env.get("MODELOPS_CLUSTER_DOMAIN", defaults.cluster_domain),
            resync_seconds=float(env.get("MODELOPS_RESYNC_SECONDS", defaults.resync_seconds)),
            liveness_port=int(env.get("MODELOPS_LIVENESS_PORT", defaults.liveness_port)),
            metrics_port=int(env.get("MODELOPS_METRICS_PORT", defaults.metrics_port)),
            activator_service=env.get("MODELOPS_ACTIVATOR_SERVICE", defaults.activator_service),
            activator_port=int(env.get("MODELOPS_ACTIVATOR_PORT", defaults.activator_port)),
            activator_admin_port=int(
                env.get("MODELOPS_ACTIVATOR_ADMIN_PORT", defaults.activator_admin_port)
            ),
            operator_namespace=env.get("POD_NAMESPACE", defaults.operator_namespace),
            instance=instance,
            peering=env.get("MODELOPS_PEERING", f"modelops-{instance}"),
            watch_server_timeout=int(
                env.get("MODELOPS_WATCH_SERVER_TIMEOUT", defaults.watch_server_timeout)
            ),
            watch_client_timeout=int(
                env.get("MODELOPS_WATCH_CLIENT_TIMEOUT", defaults.watch_client_timeout)
            ),
            package_index=_csv(env.get("MODELOPS_PACKAGE_INDEX", "")),
        )

    @property
    def storage_prefix(self) -> str:
        """Where kopf keeps its marks on our objects (annotations, the finalizer). Each
        instance has its own: kopf drops a finalizer that no handler of its needs, so two
        installs sharing one would take turns adding and removing it on every object of
        either. The default instance keeps the plain prefix its objects already carry."""
        if self.instance == DEFAULT_INSTANCE:
            return "modelops.dev"
        return f"{self.instance}.instances.modelops.dev"

    @property
    def review_url(self) -> str:
        """The activator's token review route, for predictors of Models with kubernetes
        auth (through its Service, so any ready activator answers)."""
        host = f"{self.activator_service}.{self.operator_namespace}.svc.{self.cluster_domain}"
        return f"http://{host}:{self.activator_admin_port}{REVIEW_PATH}"

    @property
    def finalizer(self) -> str:
        return f"{self.storage_prefix}/finalizer"

    def acts_in(self, namespace: str) -> bool:
        """Namespaced (watchNamespaces), it acts only in those: its own namespace is watched
        for the activator's endpoints alone."""
        return not self.namespaces or namespace in self.namespaces

    def serves(self, namespace_instance: str | None) -> bool:
        """Does this install act in a namespace labelled with ``namespace_instance``?"""
        if namespace_instance:
            return namespace_instance == self.instance
        return self.instance == DEFAULT_INSTANCE


def _csv(value: str) -> tuple[str, ...]:
    """A comma-separated value's items, without blanks."""
    return tuple(item.strip() for item in value.split(",") if item.strip())
