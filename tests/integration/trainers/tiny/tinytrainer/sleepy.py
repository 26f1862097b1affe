"""Runs until it is stopped."""

import time

print("ready", flush=True)
time.sleep(120)
