"""Never runs: the package does not install."""
