"""The contract a plugin author reads: hooks, components, templates, token spaces, seeding,
parameters and errors. Import its names from ``cookbook`` itself."""
