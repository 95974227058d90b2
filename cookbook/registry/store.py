"""Components by kind and name, with the plugin that supplied each, clashes and did-you-mean."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cookbook.contract.components import KINDS
from cookbook.contract.errors import CookbookError, PluginClashError, did_you_mean


@dataclass
class PluginInfo:
    """What ``list-plugins`` shows of one plugin."""

    name: str
    version: str
    distribution: str
    hooks: list[str] = field(default_factory=list)
    components: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    status: str = "ok"
    module: str = ""  # the module its entry point names

    def as_json(self) -> dict[str, Any]:
        """The ``list-plugins --json`` object."""
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "hooks": self.hooks,
            "components": self.components,
            "status": self.status,
        }


@dataclass
class Entry:
    component: Any
    plugin: PluginInfo


class Registry:
    """Every registered component; ``get`` resolves ``name`` or ``plugin:name``."""

    def __init__(self) -> None:
        self.plugins: list[PluginInfo] = []
        self._entries: dict[str, dict[str, list[Entry]]] = {k: {} for k in KINDS}
        self._added: list[tuple[str, str, Entry]] = []  # in order, for ``rollback``
        self._specs: dict[tuple[str, int, int], Entry] = {}  # template spec files, by path

    def add(self, kind: str, plugin: PluginInfo, component: Any) -> None:
        """Record ``component`` under its ``name``, supplied by ``plugin``."""
        name = getattr(component, "name", None)
        if not isinstance(name, str) or not name or ":" in name:
            raise CookbookError(f"{kind} component {component!r} needs a name without ':'")
        entry = Entry(component, plugin)
        self._entries[kind].setdefault(name, []).append(entry)
        self._added.append((kind, name, entry))
        plugin.components[kind].append(name)

    def mark(self) -> int:
        """A point to ``rollback`` to."""
        return len(self._added)

    def rollback(self, mark: int) -> None:
        """Forget every component added since ``mark``."""
        for kind, name, entry in reversed(self._added[mark:]):
            entries = self._entries[kind][name]
            entries.remove(entry)
            if not entries:
                del self._entries[kind][name]
            entry.plugin.components[kind].remove(name)
        del self._added[mark:]

    def discard_plugin(self, plugin: PluginInfo) -> None:
        """Forget everything ``plugin`` registered (it failed part-way)."""
        for by_name in self._entries.values():
            for name in list(by_name):
                by_name[name] = [e for e in by_name[name] if e.plugin is not plugin]
                if not by_name[name]:
                    del by_name[name]
        self._added = [added for added in self._added if added[2].plugin is not plugin]
        plugin.components = {k: [] for k in KINDS}

    def plugin(self, name: str) -> PluginInfo | None:
        """The plugin called ``name``, if it was found."""
        return next((p for p in self.plugins if p.name == name), None)

    def failed(self) -> list[PluginInfo]:
        """Plugins that failed to load."""
        return [p for p in self.plugins if p.status != "ok"]

    def names(self, kind: str) -> list[str]:
        """Registered names of ``kind``, sorted."""
        return sorted(self._entries[kind])

    def clashes(self) -> list[tuple[str, str, list[PluginInfo]]]:
        """(kind, name, plugins) for every name registered by more than one plugin."""
        return [
            (kind, name, [e.plugin for e in entries])
            for kind, by_name in self._entries.items()
            for name, entries in sorted(by_name.items())
            if len(entries) > 1
        ]

    def get(self, kind: str, name: str) -> Any:
        """The component of ``kind`` called ``name`` (or ``plugin:name``), or a clear error."""
        if kind == "templates":
            spec = self._spec(name)
            if spec is not None:
                return spec.component
        label = "step kind" if kind == "steps" else kind.rstrip("s").replace("_", " ")
        plugin_name, _, short = name.rpartition(":")
        entries = self._entries[kind].get(short, [])
        if plugin_name:
            entries = [e for e in entries if e.plugin.name == plugin_name]
        if not entries:
            raise CookbookError(
                f"unknown {label} {name!r}{self.suggest(kind, short)}{self._failures()}"
            )
        if len(entries) > 1:
            raise PluginClashError(
                f"{label} {short!r} is registered by more than one plugin: "
                + ", ".join(
                    f"{e.plugin.name} (distribution {e.plugin.distribution})" for e in entries
                )
                + "; name one as "
                + " or ".join(f"'{e.plugin.name}:{short}'" for e in entries)
            )
        return entries[0].component

    def plugin_of(self, kind: str, name: str) -> PluginInfo:
        """The plugin that supplied component ``name`` (resolved as ``get`` does)."""
        component = self.get(kind, name)
        if kind == "templates" and self._spec(name) is not None:
            return self._spec(name).plugin
        short = name.rpartition(":")[2]
        return next(e.plugin for e in self._entries[kind][short] if e.component is component)

    def _spec(self, name: str) -> Entry | None:
        """The template a spec file named by its path describes (a name ending in .yaml,
        .yml or .json that is an existing file), made once per file version; else None."""
        from cookbook.specs import is_spec_path

        if not is_spec_path(name):
            return None
        from pathlib import Path

        from cookbook.specs import template_from_spec

        path = Path(name).resolve()
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in self._specs:
            import hashlib

            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            info = PluginInfo(name="spec", version=f"spec+{digest}", distribution=str(path))
            self._specs[key] = Entry(template_from_spec(path), info)
        return self._specs[key]

    def _failures(self) -> str:
        """Plugins that failed to load, which may have provided a name that is missing."""
        failed = self.failed()
        if not failed:
            return ""
        return "; plugins that failed to load: " + "; ".join(
            f"{p.name} ({p.distribution} {p.version}: {p.status})" for p in failed
        )

    def suggest(self, kind: str, name: str) -> str:
        """``"; did you mean 'x'?"`` for the closest registered name, or a list of known ones."""
        names = self.names(kind)
        hint = did_you_mean(name, names, cutoff=0.5)
        if hint:
            return hint
        return f" (known: {', '.join(names)})" if names else " (none are installed)"
