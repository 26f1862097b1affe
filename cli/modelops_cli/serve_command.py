"""``modelops serve MODEL_URI --name NAME``: the predictor, exactly as pods run it."""

from __future__ import annotations

import argparse
from typing import Any

from modelops_cli.errors import CommandError


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve a model artifact over HTTP (KServe V1 and Open Inference Protocol)",
        description="Serve one model artifact. Flags override MODELOPS_* environment settings.",
    )
    parser.add_argument(
        "model_uri", nargs="?", help="path, file://, http(s)://, s3://, gs:// or pvc:// URI"
    )
    parser.add_argument("--name", help="model name in the URL paths (default: 'model')")
    parser.add_argument(
        "--version", dest="model_version", help="model version reported in metadata"
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--sha256", help="refuse to load unless the artifact has this sha256")
    parser.add_argument(
        "--format",
        dest="artifact_format",
        help="joblib, pickle, skops, xgboost-json or xgboost-ubj (default: detect)",
    )
    parser.add_argument(
        "--method",
        dest="default_method",
        choices=["predict", "predict_proba"],
        help="method used when a request names none (default predict)",
    )
    parser.add_argument("--max-batch-size", type=int, help="most rows merged into one model call")
    parser.add_argument(
        "--max-batch-wait-ms",
        type=float,
        help="how long a batch waits for more requests (default 0: never waits)",
    )
    parser.add_argument("--max-body-bytes", type=int, help="largest request body accepted")
    parser.add_argument(
        "--nan-policy",
        choices=["allow", "reject"],
        help="pass missing values to the model, or refuse them with a 400",
    )
    parser.add_argument(
        "--allow-version-mismatch",
        action="store_const",
        const=True,
        help="serve even if the artifact was saved with other framework versions",
    )
    parser.add_argument("--cache-dir", help="where remote artifacts are downloaded")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops_runtime.server import serve
    from modelops_runtime.settings import Settings

    overrides = {
        "model_uri": args.model_uri,
        "model_name": args.name,
        "model_version": args.model_version,
        "port": args.port,
        "host": args.host,
        "sha256": args.sha256,
        "artifact_format": args.artifact_format,
        "default_method": args.default_method,
        "max_batch_size": args.max_batch_size,
        "max_batch_wait_ms": args.max_batch_wait_ms,
        "max_body_bytes": args.max_body_bytes,
        "nan_policy": args.nan_policy,
        "allow_version_mismatch": args.allow_version_mismatch,
        "cache_dir": Path(args.cache_dir) if args.cache_dir else None,
        "log_level": args.log_level,
    }
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as err:
        raise CommandError(str(err)) from err
    if not settings.model_uri:
        raise CommandError("give a model URI (or set MODELOPS_MODEL_URI)")
    serve(settings)
    return 0
