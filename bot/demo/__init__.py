"""The offline demo: the simulated membership, the sandbox Slack and the demo run."""
