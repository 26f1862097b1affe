"""The ``modelops`` command line."""
