"""HTTP endpoints: they translate requests and answers, the data plane does the work."""
