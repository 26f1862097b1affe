"""Saves a model but writes a metric that is not a number to the metrics file."""

import json
import os
from pathlib import Path

from tinytrainer.quick import main

if __name__ == "__main__":
    main()
    Path(os.environ["MODELOPS_METRICS_FILE"]).write_text(json.dumps({"score": "high"}))
