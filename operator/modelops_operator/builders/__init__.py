"""Pure functions from a spec to the manifests of the children (plain dicts)."""
