"""Cookbook's built-in plugins, registered through the ``cookbook`` entry-point group."""
