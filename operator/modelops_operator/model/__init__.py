"""Model: the stable endpoint of a set of versions, served by its default version."""
