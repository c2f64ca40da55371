"""The plugin manager: built-ins and third-party plugins, registered through the same hooks."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Dict, List, Optional, Tuple

import pluggy

from xaikit.engine.model import ModelAdapter
from xaikit.plugin import hookspecs
from xaikit.plugin.errors import PluginError, UnknownPluginError
from xaikit.plugin.explainer import Explainer
from xaikit.plugin.sink import Sink

ENTRY_POINT_GROUP = "xaikit"

DEFAULT_PLUGINS = (
    "xaikit.builtins.explainers.gradient",
    "xaikit.builtins.adapters.nnp",
    "xaikit.builtins.adapters.graph",
    "xaikit.builtins.sinks.grey",
    "xaikit.builtins.sinks.heatmap",
    "xaikit.builtins.sinks.panel",
    "xaikit.builtins.sinks.npy",
)
"""xaikit's own plugin modules, registered exactly as third-party plugins are."""

KINDS: Dict[str, Tuple[str, type]] = {
    "explainer": ("register_explainers", Explainer),
    "adapter": ("register_model_adapters", ModelAdapter),
    "sink": ("register_sinks", Sink),
}


@dataclass(frozen=True)
class Registration:
    """One registered object and where it came from."""

    kind: str
    name: str
    obj: Any
    plugin: str
    package: str


@dataclass
class Registry:
    """Every registered object by kind and name, and the plugins that failed."""

    items: Dict[str, Dict[str, Registration]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    failures: List[str] = field(default_factory=list)
    clashes: Dict[Tuple[str, str], str] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> Any:
        if (kind, name) in self.clashes:
            raise PluginError(self.clashes[kind, name])
        try:
            return self.items[kind][name].obj
        except KeyError:
            known = ", ".join(sorted(self.items[kind])) or "none"
            raise UnknownPluginError(f"no {kind} named {name!r} (installed: {known})") from None


def _new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("xaikit")
    pm.add_hookspecs(hookspecs)
    for module in DEFAULT_PLUGINS:
        pm.register(import_module(module), name=module)
    return pm


_pm: Optional[pluggy.PluginManager] = None
_packages: Dict[str, str] = {}
_load_failures: List[str] = []
_registry: Optional[Registry] = None


def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, with built-ins and entry-point plugins registered."""
    global _pm
    if _pm is None:
        _pm = _new_plugin_manager()
        for module in DEFAULT_PLUGINS:
            _packages[module] = "xaikit"
        _load_entry_points(_pm)
    return _pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    from importlib.metadata import entry_points

    eps = entry_points()
    group = eps.select(group=ENTRY_POINT_GROUP) if hasattr(eps, "select") else eps.get(
        ENTRY_POINT_GROUP, ()
    )
    for ep in group:
        package = ep.dist.name if getattr(ep, "dist", None) else ep.value
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not break the others
            _load_failures.append(f"plugin {ep.name!r} from {package} failed to load: {exc}")
            continue
        _packages[ep.name] = package


def register_plugin(plugin: Any, name: Optional[str] = None, package: str = "") -> str:
    """Register a plugin object (a module or a class instance with hook functions).

    For plugins that are not installed as packages: tests, notebooks, scripts.
    Returns the name it was registered under.
    """
    global _registry
    pm = plugin_manager()
    registered = pm.register(plugin, name=name)
    _packages[registered] = package or registered
    _registry = None
    return registered


def unregister_plugin(name: str) -> None:
    """Undo :func:`register_plugin`."""
    global _registry
    plugin_manager().unregister(name=name)
    _packages.pop(name, None)
    _registry = None


def registry() -> Registry:
    """Call every hook once and collect what the plugins registered."""
    global _registry
    if _registry is None:
        _registry = _collect(plugin_manager())
    return _registry


def _collect(pm: pluggy.PluginManager) -> Registry:
    reg = Registry(failures=list(_load_failures))
    for kind, (hook_name, base) in KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():  # registration order
            plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
            package = _packages.get(plugin, plugin)

            def register(obj: Any, kind=kind, base=base, plugin=plugin, package=package) -> None:
                _add(reg, kind, base, obj, plugin, package)

            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except Exception as exc:
                reg.failures.append(f"plugin {plugin!r} from {package} failed in {hook_name}: "
                                    f"{type(exc).__name__}: {exc}")
    for message in reg.failures:
        warnings.warn(message, PluginWarning, stacklevel=3)
    return reg


def _add(reg: Registry, kind: str, base: type, obj: Any, plugin: str, package: str) -> None:
    """Record ``obj``; a clash makes the name unusable, with an error naming both plugins."""
    if not isinstance(obj, base):
        raise PluginError(f"plugin {plugin!r} from {package} registered {obj!r}, "
                          f"which is not a {base.__name__} instance")
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"plugin {plugin!r} from {package} registered a {kind} without a name")
    existing = reg.items[kind].get(name)
    if existing is not None:
        message = (f"{kind} name {name!r} is registered twice: by plugin {existing.plugin!r} "
                   f"from {existing.package} and by plugin {plugin!r} from {package}")
        reg.clashes[kind, name] = message
        reg.failures.append(message)
        return
    reg.items[kind][name] = Registration(kind, name, obj, plugin, package)


class PluginWarning(UserWarning):
    """A plugin failed to load or register; the other plugins still work."""
