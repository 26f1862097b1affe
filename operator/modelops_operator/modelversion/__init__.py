"""ModelVersion: one artifact served by its own predictor Deployment and Service."""
