"""The autoscaler: a pure, Knative-KPA-shaped decision (``decision``) fed by each
predictor pod's own stats and the activator's wake requests (``stats``)."""
