"""TrainingJob: the user's training code run as Kubernetes Jobs (once, on a CronJob
schedule, or as the trials of a search); each success becomes a ModelVersion."""
