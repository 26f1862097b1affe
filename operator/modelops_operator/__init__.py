"""modelops operator: reconciles Models and ModelVersions into Deployments and Services."""
