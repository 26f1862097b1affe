"""The start and the end of a test run, in the pytest process that starts the workers (or
runs the tests itself): the run's id, then, if the run reached the cluster, its namespaces
waited for and the tests' operator install removed (registered by tests/conftest.py)."""

from __future__ import annotations

import os

import pytest

from tests.e2e.run import RUN_ENV, done_once, run_id

KEEP_OPERATOR_ENV = "MODELOPS_E2E_KEEP_OPERATOR"
"""Set (to 1) to leave the tests' operator installed at the end of a run that passed: the
smoke gate does, so that the run after it finds the operator in place."""


def _controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _controller(config):
        os.environ[RUN_ENV] = f"run-{os.getpid()}"  # the workers inherit it


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if not _controller(config) or done_once(config, "sweep") is None:
        return  # a worker, or a run that never reached the cluster
    from tests.e2e.conftest import connect
    from tests.e2e.operator_fixtures import remove_operator
    from tests.e2e.sweep import end_run

    say = config.get_terminal_writer().line
    cluster = connect()
    try:
        left = end_run(cluster, run_id())
        if left:
            say(f"e2e: namespaces of this run still there after the wait: {', '.join(left)}")
        installed = done_once(config, "operator", failed_too=True)
        keep = os.environ.get(KEEP_OPERATOR_ENV) == "1" and not session.testsfailed
        if installed is not None and not keep:
            # A chart install that failed goes too: the next run must not find its pods.
            remove_operator(cluster, installed if installed.startswith("local:") else "chart")
    finally:
        cluster.api.close()
