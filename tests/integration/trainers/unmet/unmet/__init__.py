"""A package pip cannot install: its dependency is on no index."""
