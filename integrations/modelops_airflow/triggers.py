"""The trigger a deferred operator waits on: it polls a TrainingJob or a ModelVersion in
the triggerer until it is done, so no worker slot is held while a run trains."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from modelops_airflow import client, outcomes


class ModelOpsTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires once ``kind`` (TrainingJob or ModelVersion) ``name`` is done, failed or gone.

    The event carries the outcome (``succeeded``, ``xcom``, ``failure``); the operator's
    ``execute_complete`` turns it into XCom or a failed task.
    """

    def __init__(
        self,
        kind: str,
        namespace: str,
        name: str,
        kubernetes_conn_id: str = "kubernetes_default",
        poll_interval: float = 10.0,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.kubernetes_conn_id = kubernetes_conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "namespace": self.namespace,
                "name": self.name,
                "kubernetes_conn_id": self.kubernetes_conn_id,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # The connection is read and the API called in a thread of its own: the Kubernetes
        # client blocks, and the triggerer's loop serves every other trigger meanwhile.
        read = sync_to_async(client.read)
        while True:
            found = await read(self.kubernetes_conn_id, self.kind, self.namespace, self.name)
            done = outcomes.outcome(self.kind, found)
            if done is not None:
                yield TriggerEvent(
                    {
                        "kind": self.kind,
                        "name": self.name,
                        "succeeded": done.succeeded,
                        "xcom": done.xcom,
                        "failure": done.failure,
                    }
                )
                return
            await asyncio.sleep(self.poll_interval)
