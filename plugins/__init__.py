"""Cookbook's built-in plugins, registered through the ``cookbook`` entry-point group.

Each family is one plugin (a package, or a module for a single component): its ``__init__``
holds the ``register_*`` hooks. A plugin imports Cookbook from ``cookbook`` and
``cookbook.engine`` only, and never another plugin.
"""
