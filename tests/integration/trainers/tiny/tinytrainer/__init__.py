"""A tiny trainer for the entrypoint's tests."""
