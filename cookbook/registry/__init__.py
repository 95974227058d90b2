"""Components by kind and name, loaded from the plugins of the ``cookbook`` entry-point group."""

from cookbook.registry.loader import (
    ENTRY_POINT_GROUP,
    call_hook,
    get_registry,
    load_plugins,
    plugin_manager,
    reset_registry,
    strict_plugins,
)
from cookbook.registry.store import PluginInfo, Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "Registry",
    "call_hook",
    "get_registry",
    "load_plugins",
    "plugin_manager",
    "reset_registry",
    "strict_plugins",
]
