"""Trains a while, then fails the way real code does: an exception, exit code 1."""

import sys

for step in range(30):
    print(f"step {step}: loss {1 / (step + 1):.3f}")
print("loading the held-out day", file=sys.stderr)
raise ValueError("no rows for 2025-01-14 in s3://data/ctr")
