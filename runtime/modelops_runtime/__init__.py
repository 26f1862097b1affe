"""The modelops data plane: the predictor server and what runs in model pods."""
