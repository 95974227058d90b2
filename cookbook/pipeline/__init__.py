"""Pipelines: configuration, steps, the runner, the cache and the dataset card."""
