"""Operators for the modelops resources, shaped like the Google provider's ML Engine
operators: train (a TrainingJob for the DAG run's logical date), create a version from an
artifact, and promote behind the gate. Each waits for what it started, deferred to the
triggerer when ``deferrable`` (default: ``[operators] default_deferrable``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from modelops_airflow import client, manifests, outcomes
from modelops_airflow.triggers import ModelOpsTrigger
from modelops_cli import trainingjobs
from modelops_operator.api.schema import parse
from modelops_operator.api.trainingjob import Promotion

DEFAULT_CONN = "kubernetes_default"


def _deferrable_default() -> bool:
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


def logical_date(context: Context) -> datetime:
    """The DAG run's logical date; a run triggered without one is dated when it runs."""
    found: datetime | None = context.get("logical_date")
    if found is None:
        found = context["dag_run"].run_after
    return found


class _Waiting(BaseOperator):  # type: ignore[misc]
    """Waits for a TrainingJob or ModelVersion: polling here, or deferred to the trigger."""

    KIND = ""

    def __init__(
        self,
        *,
        namespace: str | None = None,
        kubernetes_conn_id: str = DEFAULT_CONN,
        deferrable: bool | None = None,
        poll_interval: float = 10.0,
        wait_timeout: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id
        self.deferrable = _deferrable_default() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def connect(self) -> str:
        """Use the connection; the namespace given, else the connection's."""
        found = client.connect(self.kubernetes_conn_id)
        return self.namespace or found

    def wait(self, context: Context, namespace: str, name: str) -> Any:
        deadline = time.monotonic() + self.wait_timeout
        while True:
            done = outcomes.outcome(
                self.KIND, client.read(self.kubernetes_conn_id, self.KIND, namespace, name)
            )
            if done is not None:
                return self.finish(context, done)
            if self.deferrable:
                self.defer(
                    trigger=ModelOpsTrigger(
                        self.KIND, namespace, name, self.kubernetes_conn_id, self.poll_interval
                    ),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=self.wait_timeout),
                )
            if time.monotonic() > deadline:
                raise AirflowException(
                    f"waited {self.wait_timeout:.0f}s for {self.KIND} {name} in namespace "
                    f"{namespace}; it goes on (kubectl describe {self.KIND.lower()} {name})"
                )
            time.sleep(self.poll_interval)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        done = outcomes.Outcome(
            bool(event["succeeded"]), dict(event.get("xcom") or {}), str(event.get("failure") or "")
        )
        return self.finish(context, done)

    def finish(self, context: Context, done: outcomes.Outcome) -> Any:
        """Each field of the outcome under its own XCom key, and the whole as the return
        value; a failure fails the task for good (a retry would find the same run)."""
        if not done.succeeded:
            raise AirflowFailException(done.failure)
        for key, value in done.xcom.items():
            context["ti"].xcom_push(key=key, value=value)
        return done.xcom


class ModelOpsTrainingOperator(_Waiting):
    """Train once for the DAG run's logical date: apply the TrainingJob ``<name>-YYYYmmdd``
    (its ``runDate`` the logical date, the trainer's ``MODELOPS_RUN_DATE``), wait for its
    run, and push ``version``, ``metrics`` and ``promotion`` (the gate's decision) to XCom.
    A failed run fails the task with the run's reason and message.

    :param model: the Model the version belongs to (created if missing).
    :param package: store URI of the trainer's wheel or sdist, with ``module``; or
        ``image`` with ``command``.
    :param args: the trainer's arguments (templated).
    :param store: where the model goes (the TrainingJob's ``output``; the operator's model
        store when unset), as ``train submit --store``.
    :param promotion: the gate (``Promotion`` or ``{"metric", "goal", "minImprovement",
        "mode"}``); ``mode: manual`` holds a passing candidate for
        ``ModelOpsPromoteOperator``.
    :param spec: any other TrainingJob spec field, camelCase (env, resources, ...).
    :param name: the TrainingJob's name prefix (default: the model).
    """

    KIND = outcomes.TRAINING_JOB
    template_fields: Sequence[str] = (
        "model",
        "package",
        "module",
        "image",
        "command",
        "args",
        "store",
        "runtime_version",
        "name",
        "namespace",
    )
    ui_color = "#e4f0e8"

    def __init__(
        self,
        *,
        model: str,
        package: str | None = None,
        module: str | None = None,
        image: str | None = None,
        command: Sequence[str] = (),
        args: Sequence[Any] = (),
        store: str | None = None,
        runtime_version: str | None = None,
        promotion: Promotion | Mapping[str, Any] | None = None,
        spec: Mapping[str, Any] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.package = package
        self.module = module
        self.image = image
        self.command = command
        self.args = args
        self.store = store
        self.runtime_version = runtime_version
        self.promotion = promotion
        self.spec = spec
        self.name = name

    def execute(self, context: Context) -> Any:
        namespace = self.connect()
        when = logical_date(context)
        name = manifests.run_name(self.name or self.model, when)
        spec = manifests.training_spec(
            model=self.model,
            package=self.package,
            module=self.module,
            image=self.image,
            command=self.command,
            args=self.args,
            output=self.store,
            runtime_version=self.runtime_version,
            promotion=self.promotion,
            extra=self.spec,
        )
        if client.ensure_model(namespace, self.model):
            self.log.info("created Model %s", self.model)
        client.apply(manifests.training_job(namespace, name, spec, when))
        self.log.info(
            "applied TrainingJob %s (namespace %s) for %s; its log: modelops train logs %s -n %s",
            name,
            namespace,
            manifests.run_date(when),
            name,
            namespace,
        )
        return self.wait(context, namespace, name)

    def finish(self, context: Context, done: outcomes.Outcome) -> Any:
        if done.succeeded and done.xcom.get("promotion"):
            self.log.info("promotion: %s", trainingjobs.promotion_text(done.xcom["promotion"]))
        return super().finish(context, done)


class ModelOpsCreateVersionOperator(_Waiting):
    """Create a ModelVersion of ``model`` from ``artifact_uri`` and wait until it is Ready
    (the artifact fetched and verified, the runtime compatible, a pod serving it); push
    ``version``, ``url`` and ``metrics``. ``held=True`` keeps it from serving until
    ``ModelOpsPromoteOperator`` lets it.

    :param version: the version's name; the ModelVersion is ``<model>-<version>``.
    """

    KIND = outcomes.MODEL_VERSION
    template_fields: Sequence[str] = (
        "model",
        "version",
        "artifact_uri",
        "sha256",
        "artifact_format",
        "runtime_version",
        "namespace",
    )
    ui_color = "#e4ecf7"

    def __init__(
        self,
        *,
        model: str,
        version: str,
        artifact_uri: str,
        sha256: str | None = None,
        artifact_format: str | None = None,
        runtime_version: str | None = None,
        held: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.version = version
        self.artifact_uri = artifact_uri
        self.sha256 = sha256
        self.artifact_format = artifact_format
        self.runtime_version = runtime_version
        self.held = held

    def execute(self, context: Context) -> Any:
        from modelops_cli.resources import version_name

        namespace = self.connect()
        name = version_name(self.model, self.version)
        if client.ensure_model(namespace, self.model):
            self.log.info("created Model %s", self.model)
        wanted = manifests.model_version(
            namespace,
            name,
            model=self.model,
            artifact_uri=self.artifact_uri,
            sha256=self.sha256,
            artifact_format=self.artifact_format,
            runtime_version=self.runtime_version,
            held=self.held,
        )
        if client.create(wanted):
            self.log.info("created ModelVersion %s", name)
        else:
            self.log.info("ModelVersion %s exists already: waiting for it", name)
        return self.wait(context, namespace, name)


class ModelOpsPromoteOperator(BaseOperator):  # type: ignore[misc]
    """The promotion gate, on demand, for ``version`` of ``model``.

    A candidate of a gated run (``mode: manual``) keeps the decision its run made on the
    same held-out data: passed, it is promoted; refused, the task stops with the reason.
    A version held back with no decision (``ModelOpsCreateVersionOperator(held=True)``) is
    decided now, by the operator's own gate, on the metrics the versions recorded. The
    decision goes to XCom (``promotion``, and ``version``). A refusal skips the task (and
    what follows it) or, with ``fail_on_refusal``, fails it.
    """

    template_fields: Sequence[str] = ("model", "version", "namespace")
    ui_color = "#f7ecd9"

    def __init__(
        self,
        *,
        model: str,
        version: str,
        policy: Promotion | Mapping[str, Any] | None = None,
        fail_on_refusal: bool = False,
        namespace: str | None = None,
        kubernetes_conn_id: str = DEFAULT_CONN,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.version = version
        self.policy = policy
        self.fail_on_refusal = fail_on_refusal
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id

    def execute(self, context: Context) -> Any:
        from modelops_cli.resources import version_name

        namespace = self.namespace or client.connect(self.kubernetes_conn_id)
        name = version_name(self.model, self.version)
        found = client.get_version(namespace, name)
        model = client.get_model(namespace, self.model)
        if found is None or model is None:
            what = f"ModelVersion {name}" if model is not None else f"Model {self.model}"
            raise AirflowFailException(f"no {what} in namespace {namespace}")
        serving_name = outcomes.serving_version(model)
        serving = client.get_version(namespace, serving_name) if serving_name else None
        policy = self.policy
        if policy is not None and not isinstance(policy, Promotion):
            policy = parse(Promotion, dict(policy))
        try:
            verdict = outcomes.gate(found, model, serving, policy)
        except ValueError as err:
            raise AirflowFailException(str(err)) from err
        context["ti"].xcom_push(key="promotion", value=verdict.decision)
        context["ti"].xcom_push(key="version", value=name)
        text = trainingjobs.promotion_text(verdict.decision)
        if verdict.action == "refuse":
            message = f"{name} is not promoted: {text}"
            if self.fail_on_refusal:
                raise AirflowFailException(message)
            raise AirflowSkipException(message)
        if verdict.action == "promote":
            client.label_version(
                namespace,
                name,
                verdict.label or "promoted",
                verdict.decision if verdict.label else {},
            )
            self.log.info("%s promoted: %s", name, text)
        else:
            self.log.info("%s: nothing to promote: %s", name, text)
        return {"version": name, "promotion": verdict.decision}
