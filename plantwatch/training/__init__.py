"""Training orchestration: the LightningCLI, the prediction writer, run records."""
