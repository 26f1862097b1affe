"""The worker ``bench/distributed.py`` runs in each pod: the CTR example's training, step by
step, measured. Shipped in the bench's trainer package beside the example's ``trainer``.

Prints one ``BENCH {json}`` line: the rows and bytes this worker read, its resident memory
after the imports (the baseline) and at its peak before scoring (the data part is the
difference), the time to load, to join the group (waiting for the slowest worker's data),
to agree on the features and to fit in the group, and — with several workers — the time
the same worker takes to fit its own shard alone, outside the collective: the difference
is the collective's part of the fit (communication, and waiting for slower peers).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    import joblib
    import numpy  # noqa: F401  (imports first: the baseline holds the libraries)
    import pandas  # noqa: F401
    import sklearn  # noqa: F401
    import xgboost  # noqa: F401
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.pipeline import make_pipeline
    from trainer import train as ctr
    from trainer.data import LABEL, read_days, records

    from modelops_runtime.training import distributed, report_metrics

    baseline = resident_mib()
    args = ctr.parse_args(sys.argv[1:])
    days, held_out = ctr.window(ctr.run_day(), args.days, args.holdout_days)
    me = distributed.worker()
    mine = distributed.assign(days, me.rank, me.world_size)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as cache:
        frame = read_days(args.data, mine, Path(cache))
        read_bytes = sum(f.stat().st_size for f in Path(cache).rglob("*") if f.is_file())
    rows, clicked = records(frame), frame[LABEL].to_numpy()
    del frame
    loaded = time.monotonic()
    with distributed.collective():  # as ctr.fit, timed step by step
        joined = time.monotonic()
        vectorizer = ctr.shared_vocabulary(DictVectorizer().fit(rows), me.world_size)
        features = vectorizer.transform(rows)
        prepared = time.monotonic()
        classifier = ctr.classifier(args).fit(features, clicked)
        fitted = time.monotonic()
    model = make_pipeline(vectorizer, classifier)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    alone = 0.0
    if me.distributed:  # the same shard, the same work, no collective
        begun = time.monotonic()
        ctr.classifier(args).fit(features, clicked)
        alone = time.monotonic() - begun
    measured = {
        "rank": me.rank, "workers": me.world_size, "rows": len(rows), "bytes": read_bytes,
        "baseline_mib": round(baseline, 1), "peak_mib": round(peak, 1),
        "load_s": round(loaded - started, 2), "join_s": round(joined - loaded, 2),
        "prepare_s": round(prepared - joined, 2), "fit_s": round(fitted - prepared, 2),
        "fit_alone_s": round(alone, 2),
    }  # fmt: skip
    if me.rank == 0:
        metrics = ctr.score(model, *ctr.load(args, held_out))
        report_metrics(**metrics)
        measured["auc"] = metrics["auc"]
        model_dir = Path(os.environ["MODELOPS_MODEL_DIR"])
        joblib.dump(model, model_dir / ctr.MODEL_FILE)
    print("BENCH " + json.dumps(measured), flush=True)


if __name__ == "__main__":
    main()
