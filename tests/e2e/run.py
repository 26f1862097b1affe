"""One test run on the cluster, shared by its pytest-xdist workers.

What a run does once (sweep what dead runs left, install the operator) is done by the
first worker that needs it, under a file lock in the run's base temporary folder; the
others wait for it and reuse its outcome, a failure included, so a broken install fails
every worker at once instead of each waiting out its own timeout. What a run undoes at the
end (its namespaces, its operator install) is undone by the process that started the
workers (``tests/e2e/session.py``).

Every namespace and cluster-wide object a test makes is labelled with the run's id (the
controlling pytest process, ``run-<pid>``), so a later run can tell what a dead run left
behind from what a live one, perhaps another ``make test`` on the same cluster, still uses.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

E2E_LABEL = "modelops.dev/e2e"
RUN_LABEL = "modelops.dev/e2e-run"
RUN_ENV = "MODELOPS_E2E_RUN"


def run_id() -> str:
    """The id of this run: its controlling pytest process (set in session.py)."""
    return os.environ.get(RUN_ENV) or f"run-{os.getpid()}"


def run_alive(run: str) -> bool:
    """Is the pytest process of ``run`` (``run-<pid>``, on this machine) still running?"""
    pid = run.removeprefix("run-")
    if not pid.isdigit():
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"pytest" in command


def labels(**extra: str) -> dict[str, str]:
    """The labels of anything a test makes on the cluster."""
    return {E2E_LABEL: "true", RUN_LABEL: run_id(), **extra}


def shared_dir(config: pytest.Config) -> Path:
    """The run's base temporary folder: a worker's own is a folder inside it."""
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    return Path(base.parent if hasattr(config, "workerinput") else base)


@contextmanager
def locked(config: pytest.Config, name: str) -> Iterator[None]:
    with (shared_dir(config) / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def once(config: pytest.Config, name: str, action: Callable[[], str]) -> str:
    """Run ``action`` once in this run, whichever worker asks first; every worker gets its
    result. A failure is kept too: the workers after the first fail at once with it."""
    record = shared_dir(config) / f"{name}.json"
    with locked(config, name):
        if not record.exists():
            try:
                done = {"ok": True, "value": action()}
            except pytest.skip.Exception:
                raise  # no cluster: each worker finds that out for itself
            except BaseException as err:  # recorded for the other workers, then raised
                done = {"ok": False, "value": f"{type(err).__name__}: {err}"}
                record.write_text(json.dumps(done))
                raise
            record.write_text(json.dumps(done))
        done = json.loads(record.read_text())
    if not done["ok"]:
        pytest.fail(f"{name} failed earlier in this run: {done['value']}", pytrace=False)
    return str(done["value"])


def done_once(config: pytest.Config, name: str, *, failed_too: bool = False) -> str | None:
    """What ``once(name)`` gave in this run, if it ran and succeeded (or, with
    ``failed_too``, its error when it failed)."""
    record = shared_dir(config) / f"{name}.json"
    if not record.exists():
        return None
    done = json.loads(record.read_text())
    return str(done["value"]) if done["ok"] or failed_too else None
