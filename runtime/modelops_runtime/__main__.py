"""``python -m modelops_runtime serve|fetch ...``: what predictor pods run."""

import sys

from modelops_runtime.commands import main

sys.exit(main())
