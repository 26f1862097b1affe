"""A trainer that needs no framework (quick to start): its "model" is a pickled dict, which
the entrypoint uploads like any pickle. For the tests of what happens around a model."""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path
from typing import Any


def evaluate(model: Any) -> dict[str, float]:
    return {"score": float(model["C"])}


def main() -> None:
    from modelops_runtime.training import report_metrics

    parser = argparse.ArgumentParser()
    parser.add_argument("--job-dir", required=True)
    parser.add_argument("--C", type=float, default=1.0)
    args = parser.parse_args(sys.argv[1:])
    print(f"quick C={args.C}")
    report_metrics(score=args.C)
    (Path(os.environ["MODELOPS_MODEL_DIR"]) / "model.pkl").write_bytes(pickle.dumps({"C": args.C}))


if __name__ == "__main__":
    main()
