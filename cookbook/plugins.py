"""Plugin loading: every entry point in the ``cookbook`` group, each under its own error handling.

Environment variables:
``COOKBOOK_LOAD_PLUGINS``: comma list of plugin names to load (empty: none).
``COOKBOOK_DISABLE_PLUGINS``: comma list of plugin names to skip.
``COOKBOOK_STRICT_PLUGINS=1``: re-raise a plugin's error instead of reporting it.
"""

from __future__ import annotations

import os
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from cookbook import hookspecs
from cookbook.components import KINDS
from cookbook.registry import PluginInfo, Registry

ENTRY_POINT_GROUP = "cookbook"

_registry: Registry | None = None
_manager: pluggy.PluginManager | None = None


def _names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def _selected(name: str) -> bool:
    allow, deny = _names("COOKBOOK_LOAD_PLUGINS"), _names("COOKBOOK_DISABLE_PLUGINS")
    return (allow is None or name in allow) and not (deny and name in deny)


def strict() -> bool:
    """True when plugin errors should propagate (``COOKBOOK_STRICT_PLUGINS=1``)."""
    return os.environ.get("COOKBOOK_STRICT_PLUGINS", "") not in ("", "0", "false")


def _describe(exc: BaseException) -> str:
    return f"error: {type(exc).__name__}: {exc}"


def _info(ep: EntryPoint) -> PluginInfo:
    dist = ep.dist
    return PluginInfo(
        name=ep.name,
        version=dist.version if dist else "unknown",
        distribution=dist.metadata["Name"] if dist else "unknown",
        module=ep.module,
    )


def load(extra: dict[str, Any] | None = None) -> tuple[Registry, pluggy.PluginManager]:
    """Load the selected plugins (plus ``extra``: name -> module, for tests) into a registry."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    registry = Registry()
    found: list[tuple[PluginInfo, Any]] = []
    eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value))
    for ep in eps:
        if not _selected(ep.name):
            continue
        info = _info(ep)
        try:
            if any(p.name == ep.name for p in registry.plugins):
                raise RuntimeError(
                    f"another installed distribution uses the plugin name {ep.name!r}"
                )
            found.append((info, ep.load()))
        except Exception as exc:
            if strict():
                raise
            info.status = _describe(exc)
        registry.plugins.append(info)
    for name, module in (extra or {}).items():
        info = PluginInfo(name=name, version="0", distribution=name, module=module.__name__)
        registry.plugins.append(info)
        found.append((info, module))
    for info, module in found:
        _register(manager, registry, info, module)
    return registry, manager


def _register(
    manager: pluggy.PluginManager, registry: Registry, info: PluginInfo, module: Any
) -> None:
    try:
        manager.register(module, name=info.name)
        impls = [
            impl
            for caller in manager.hook.__dict__.values()
            if isinstance(caller, pluggy.HookCaller)
            for impl in caller.get_hookimpls()
            if impl.plugin is module
        ]
        info.hooks = sorted(impl.function.__name__ for impl in impls)
        for kind in KINDS:
            hook = getattr(manager.hook, f"register_{kind}")
            for impl in hook.get_hookimpls():
                if impl.plugin is module:
                    impl.function(register=partial(registry.add, kind, info))
    except Exception as exc:
        if strict():
            raise
        registry.discard_plugin(info)
        if manager.is_registered(module):
            manager.unregister(module)
        info.status = _describe(exc)


def registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry, _manager
    if _registry is None:
        _registry, _manager = load()
    return _registry


def manager() -> pluggy.PluginManager:
    """The plugin manager behind ``registry()`` (for hooks such as ``register_commands``)."""
    registry()
    assert _manager is not None
    return _manager


def reset() -> None:
    """Forget the loaded plugins (tests, or after changing the environment variables)."""
    global _registry, _manager
    _registry = _manager = None
