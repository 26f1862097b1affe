"""Helpers for tests that run the trainer entrypoint as a pod runs it, as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from modelops_contracts.training import TrainingResult

REPO = Path(__file__).resolve().parents[2]
TRAINERS = Path(__file__).resolve().parent / "trainers"
CTR_EXAMPLE = REPO / "examples" / "ctr"


@dataclass(frozen=True)
class Run:
    code: int
    result: TrainingResult
    stdout: str
    stderr: str
    work: Path


def build_wheels(out: Path) -> dict[str, Path]:
    """The test trainers and the CTR example, built by the CLI's own builder."""
    from modelops_cli.packaging import build

    projects = {
        "tiny": TRAINERS / "tiny",
        "unmet": TRAINERS / "unmet",
        "ctr": CTR_EXAMPLE / "trainer",  # a package folder: its parent is the project
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        built = {name: pool.submit(build, path, out / name) for name, path in projects.items()}
    return {name: future.result() for name, future in built.items()}


def train(
    tmp_path: Path,
    *args: str,
    trainer_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Run:
    """``python -m modelops_runtime train ARGS -- TRAINER_ARGS``; the result read back
    from the termination log the way the operator reads it."""
    log = tmp_path / "termination-log"
    log.unlink(missing_ok=True)
    work = tmp_path / "work"
    argv = [sys.executable, "-m", "modelops_runtime", "train", "--work-dir", str(work),
            "--termination-log", str(log), *args, "--", *trainer_args]  # fmt: skip
    done = subprocess.run(
        argv, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    result = TrainingResult.from_termination(log.read_text(), done.returncode)
    # What a pod's log shows last is the same result.
    assert json.loads(done.stdout.strip().splitlines()[-1])["reason"] == result.reason
    return Run(done.returncode, result, done.stdout, done.stderr, work)


def in_image(module_root: Path) -> dict[str, str]:
    """The environment of a trainer already in the image (on the path, no package)."""
    paths = [str(module_root), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}


def write_ctr_days(folder: Path, days: int, end: str = "2025-01-21") -> str:
    """``days`` days of synthetic click logs up to ``end`` in ``folder``, written by the CTR
    example's own module; their URI."""
    uri = folder.as_uri()
    subprocess.run(
        [sys.executable, "-m", "trainer.data", "--out", uri, "--end", end, "--days", str(days)],
        cwd=CTR_EXAMPLE, check=True, capture_output=True,
    )  # fmt: skip
    return uri
