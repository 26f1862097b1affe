"""``make bench BENCH=cold_start``: a predictor's start, from process start to its first 200.

What a light wake runs in its container (``serve s3://BUCKET/PREFIX/ --sha256 SHA --format
FORMAT --termination-log ...``, nothing cached), timed on this machine against the real MinIO of
the local cluster (``/var/lib/modelops-cluster/s3.env``) for the serving bench's models (a
scikit-learn pipeline and an XGBClassifier, each saved with joblib, and the same model's
Booster saved with ``save_model``, each beside its ``metadata.json``). The peer is the
runtime as it was at a git ref (``--baseline``, default ``main``), run from a copy of that
ref's sources with the same interpreter and libraries; the two alternate within each
round. The time is from spawning the process to the first 200 on ``/v2/health/ready``
(polled every 10 ms); the pod sandbox and the image are not in it.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from servers import REPO, free_port
from workloads import Workload, train_booster, train_pipeline, train_xgboost

S3_ENV = Path("/var/lib/modelops-cluster/s3.env")
READY_TIMEOUT = 60.0
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Runtime:
    label: str
    pythonpath: str  # '' for the installed (working tree) runtime


@dataclass(frozen=True)
class Artifact:
    name: str
    uri: str
    sha256: str
    format: str  # the verified format, which the operator passes to a light wake


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--baseline", default="main", help="git ref of the runtime to compare with (main)"
    )
    return parser.parse_args(argv)


def s3_env() -> dict[str, str]:
    env = dict(os.environ)
    for line in S3_ENV.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            env[key] = value
    return env


@contextlib.contextmanager
def baseline_sources(ref: str) -> Iterator[str]:
    """A PYTHONPATH holding the runtime and contracts packages as they are at ``ref``."""
    with tempfile.TemporaryDirectory(prefix="cold-start-baseline-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, "runtime", "contracts"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield f"{tmp}/runtime:{tmp}/contracts"


@contextlib.contextmanager
def uploaded(workloads: list[Workload], env: dict[str, str]) -> Iterator[list[Artifact]]:
    """Each model and its metadata.json under its own prefix of a bucket made for the run
    (as the serving bench uploads them); the bucket goes at the end."""
    import boto3

    from modelops_runtime.artifacts import format_from_name, write_metadata
    from modelops_runtime.storage import sha256_of

    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    bucket = f"bench-cold-start-{int(time.time())}"
    s3.create_bucket(Bucket=bucket)
    try:
        artifacts = []
        for workload in workloads:
            key = f"{workload.name}/{workload.ours_artifact.name}"
            s3.upload_file(str(workload.ours_artifact), bucket, key)
            with tempfile.TemporaryDirectory() as tmp:
                metadata = write_metadata(Path(tmp), workload.framework)
                s3.upload_file(str(metadata), bucket, f"{workload.name}/metadata.json")
            artifacts.append(
                Artifact(
                    workload.name,
                    f"s3://{bucket}/{workload.name}/",
                    sha256_of(workload.ours_artifact),
                    str(format_from_name(workload.ours_artifact.name)),
                )
            )
        yield artifacts
    finally:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)


def ready(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/v2/health/ready")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def start_to_ready(runtime: Runtime, artifact: Artifact, env: dict[str, str]) -> float:
    """Seconds from spawning a light-wake predictor (empty cache) to its first 200."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        run_env = {**env, "PYTHONPATH": runtime.pythonpath} if runtime.pythonpath else env
        command = [
            sys.executable, "-m", "modelops_runtime", "serve", artifact.uri,
            "--sha256", artifact.sha256, "--format", artifact.format, "--port", str(port),
            "--cache-dir", f"{tmp}/cache", "--termination-log", f"{tmp}/termination-log",
            "--log-level", "warning",
        ]  # fmt: skip
        started = time.perf_counter()
        log = Path(f"{tmp}/predictor.log")
        with log.open("wb") as out:
            proc = subprocess.Popen(command, env=run_env, cwd=tmp, stderr=out)
        try:
            while not ready(port):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{runtime.label} predictor exited {proc.returncode}: {log.read_text()}"
                    )
                if time.perf_counter() - started > READY_TIMEOUT:
                    raise RuntimeError(f"{runtime.label} predictor not ready in {READY_TIMEOUT} s")
                time.sleep(POLL_SECONDS)
            return time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = s3_env()
    with tempfile.TemporaryDirectory(prefix="cold-start-models-") as tmp:
        workloads = [
            train_pipeline(Path(tmp) / "pipeline"),
            train_xgboost(Path(tmp) / "xgb"),
            train_booster(Path(tmp) / "booster"),
        ]
        with baseline_sources(args.baseline) as old_path, uploaded(workloads, env) as artifacts:
            runtimes = [Runtime(args.baseline, old_path), Runtime("this tree", "")]
            times: dict[tuple[str, str], list[float]] = {}
            for number in range(args.rounds):
                order = runtimes if number % 2 == 0 else runtimes[::-1]
                for artifact in artifacts:
                    for runtime in order:
                        seconds = start_to_ready(runtime, artifact, env)
                        times.setdefault((artifact.name, runtime.label), []).append(seconds)
                        print(
                            f"round {number + 1} {artifact.name:<9} {runtime.label:<10} "
                            f"{seconds:6.3f} s",
                            flush=True,
                        )
    print(f"\nstart to first 200, median of {args.rounds} (min-max), s")
    old, new = runtimes
    for artifact in artifacts:
        cells = []
        for runtime in runtimes:
            values = times[(artifact.name, runtime.label)]
            cells.append(
                f"{runtime.label}: {statistics.median(values):.3f} "
                f"({min(values):.3f}-{max(values):.3f})"
            )
        ratio = statistics.median(times[(artifact.name, new.label)]) / statistics.median(
            times[(artifact.name, old.label)]
        )
        print(f"{artifact.name:<9} " + "  ".join(cells) + f"  ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
