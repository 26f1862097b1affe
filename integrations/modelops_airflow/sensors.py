"""A sensor on what serves: it waits until a Model serves a given version."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from modelops_airflow import client, outcomes
from modelops_cli.deploy_command import serving_message
from modelops_cli.resources import version_name


class ModelOpsServingSensor(BaseSensorOperator):  # type: ignore[misc]
    """Waits until ``model`` serves ``version`` (its URL answers with it). A pin on another
    version fails the task at once: the Model will not switch by itself."""

    template_fields: Sequence[str] = ("model", "version", "namespace")
    ui_color = "#e4ecf7"

    def __init__(
        self,
        *,
        model: str,
        version: str,
        namespace: str | None = None,
        kubernetes_conn_id: str = "kubernetes_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.version = version
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id

    def poke(self, context: Context) -> bool:
        namespace = self.namespace or client.connect(self.kubernetes_conn_id)
        name = version_name(self.model, self.version)
        model = client.get_model(namespace, self.model)
        if model is None:
            raise AirflowFailException(f"no Model {self.model} in namespace {namespace}")
        pin = (model.get("spec") or {}).get("defaultVersion")
        if pin and pin != name:
            raise AirflowFailException(serving_message(model, name))
        self.log.info(serving_message(model, name))
        return outcomes.serving_version(model) == name
