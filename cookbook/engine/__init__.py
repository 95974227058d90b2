"""The engine: generation, scoring, mixing, inference and evaluation."""
