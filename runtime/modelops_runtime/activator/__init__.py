"""The activator: a reverse proxy the operator puts in a Service's path while the Service's
versions are at zero or split traffic (see docs/serving.md)."""
