"""Plugin loading: every entry point in the ``cookbook`` group, each under its own error handling.

Hooks are called through pluggy (so ``tryfirst``, ``trylast`` and hook wrappers work); each
plugin's implementations are wrapped so that one that raises is reported on its plugin, and
what that plugin registered is dropped, while every other plugin loads.

Environment variables:
``COOKBOOK_LOAD_PLUGINS``: comma list of plugin names to load (empty: none).
``COOKBOOK_DISABLE_PLUGINS``: comma list of plugin names to skip.
``COOKBOOK_STRICT_PLUGINS=1``: re-raise a plugin's error instead of reporting it.
"""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from cookbook.contract import hooks
from cookbook.contract.components import KINDS
from cookbook.registry.store import PluginInfo, Registry

ENTRY_POINT_GROUP = "cookbook"

_registry: Registry | None = None
_manager: pluggy.PluginManager | None = None
#: The plugin whose hook implementation is running, so ``register`` knows who supplied what.
_calling: contextvars.ContextVar[PluginInfo | None] = contextvars.ContextVar(
    "calling", default=None
)


def _names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def _selected(name: str) -> bool:
    allow, deny = _names("COOKBOOK_LOAD_PLUGINS"), _names("COOKBOOK_DISABLE_PLUGINS")
    return (allow is None or name in allow) and not (deny and name in deny)


def strict_plugins() -> bool:
    """True when plugin errors should propagate (``COOKBOOK_STRICT_PLUGINS=1``)."""
    return os.environ.get("COOKBOOK_STRICT_PLUGINS", "") not in ("", "0", "false")


def describe_error(exc: BaseException) -> str:
    """A plugin's status line for an exception: ``error: Type: message``."""
    return f"error: {type(exc).__name__}: {exc}"


def _info(ep: EntryPoint) -> PluginInfo:
    dist = ep.dist
    return PluginInfo(
        name=ep.name,
        version=dist.version if dist else "unknown",
        distribution=dist.metadata["Name"] if dist else "unknown",
        module=ep.module,
    )


def _isolated(function: Callable[..., Any], info: PluginInfo) -> Callable[..., Any]:
    """``function`` run as ``info``'s: a failure marks that plugin failed instead of raising."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if info.status != "ok":
            return None
        token = _calling.set(info)
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            if strict_plugins():
                raise
            info.status = describe_error(exc)
            return None
        finally:
            _calling.reset(token)

    return call


def _register_module(manager: pluggy.PluginManager, info: PluginInfo, module: Any) -> None:
    """Register ``module`` with pluggy, each of its (non-wrapper) hook functions isolated."""
    try:
        manager.register(module, name=info.name)
    except Exception as exc:  # e.g. a hook implementation matching no spec
        if strict_plugins():
            raise
        info.status = describe_error(exc)
        return
    names = set()
    for caller in manager.get_hookcallers(module) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is module:
                names.add(caller.name)
                if not (impl.hookwrapper or impl.wrapper):
                    impl.function = _isolated(impl.function, info)
    info.hooks = sorted(names)


def call_hook(manager: pluggy.PluginManager, registry: Registry, name: str, **kwargs: Any) -> None:
    """Call hook ``name`` through pluggy. A hook wrapper that raises fails its own plugin:
    what the call registered is undone and the hook is called again without that wrapper."""
    while True:
        mark = registry.mark()
        try:
            getattr(manager.hook, name)(**kwargs)
            return
        except Exception as exc:
            if strict_plugins():
                raise
            wrappers = [
                impl
                for impl in getattr(manager.hook, name).get_hookimpls()
                if impl.hookwrapper or impl.wrapper
            ]
            culprits = _raised_in(exc, wrappers) or wrappers
            if not culprits:
                raise
            registry.rollback(mark)
            for impl in culprits:
                info = registry.plugin(impl.plugin_name)
                if info is not None:
                    info.status = describe_error(exc)
                manager.unregister(impl.plugin)


def _raised_in(exc: BaseException, impls: list[Any]) -> list[Any]:
    """The hook implementations among ``impls`` whose code the traceback of ``exc`` passed
    through, innermost first."""
    codes = {impl.function.__code__: impl for impl in impls}
    found = []
    tb = exc.__traceback__
    while tb is not None:
        impl = codes.get(tb.tb_frame.f_code)
        if impl is not None and impl not in found:
            found.append(impl)
        tb = tb.tb_next
    return found[-1:]


def load_plugins(extra: dict[str, Any] | None = None) -> tuple[Registry, pluggy.PluginManager]:
    """Load the selected plugins (plus ``extra``: name -> module, for tests) into a registry."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hooks)
    registry = Registry()
    eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value))
    for ep in eps:
        if not _selected(ep.name):
            continue
        info = _info(ep)
        registry.plugins.append(info)
        try:
            if manager.has_plugin(ep.name):
                raise RuntimeError(
                    f"another installed distribution uses the plugin name {ep.name!r}"
                )
            module = ep.load()
        except Exception as exc:
            if strict_plugins():
                raise
            info.status = describe_error(exc)
            continue
        _register_module(manager, info, module)
    for name, module in (extra or {}).items():
        info = PluginInfo(name=name, version="0", distribution=name, module=module.__name__)
        registry.plugins.append(info)
        _register_module(manager, info, module)

    def register(kind: str, component: Any) -> None:
        info = _calling.get()
        if info is None:
            raise RuntimeError("register() called outside a hook")
        registry.add(kind, info, component)

    for kind in KINDS:
        call_hook(manager, registry, f"register_{kind}", register=functools.partial(register, kind))
    for info in registry.plugins:
        if info.status != "ok":
            registry.discard_plugin(info)
            if manager.has_plugin(info.name):
                manager.unregister(name=info.name)
    return registry, manager


def get_registry() -> Registry:
    """The process-wide registry of components, loaded on first use."""
    global _registry, _manager
    if _registry is None:
        _registry, _manager = load_plugins()
    return _registry


def plugin_manager() -> pluggy.PluginManager:
    """The plugin manager behind ``get_registry()`` (to call hooks such as
    ``register_commands``)."""
    get_registry()
    assert _manager is not None
    return _manager


def reset_registry() -> None:
    """Forget the loaded plugins (tests, or after changing the environment variables)."""
    global _registry, _manager
    _registry = _manager = None
