"""The plugin manager: built-ins and third-party plugins, registered through the same hooks."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from difflib import get_close_matches
from importlib import import_module
from typing import Any, Dict, List, Optional, Tuple

import pluggy

from xaikit.engine.model import ModelAdapter
from xaikit.plugin import hookspecs
from xaikit.plugin.errors import PluginError, UnknownPluginError
from xaikit.plugin.explainer import Explainer
from xaikit.plugin.metric import Metric
from xaikit.plugin.params import option_name, reserved_fields
from xaikit.plugin.sink import Sink

ENTRY_POINT_GROUP = "xaikit"
OWN_PACKAGE = "xaikit"
"""The distribution of xaikit's own plugins: they keep their names when others clash."""

DEFAULT_PLUGINS = (
    "xaikit.builtins.explainers.gradient",
    "xaikit.builtins.adapters.nnp",
    "xaikit.builtins.adapters.onnx",
    "xaikit.builtins.adapters.graph",
    "xaikit.builtins.sinks.grey",
    "xaikit.builtins.sinks.heatmap",
    "xaikit.builtins.sinks.panel",
    "xaikit.builtins.sinks.npy",
    "xaikit.builtins.explainers.random_map",
    "xaikit.builtins.explainers.edge",
    "xaikit.builtins.metrics.deletion",
    "xaikit.builtins.metrics.mufidelity",
    "xaikit.builtins.metrics.randomization",
    "xaikit.builtins.metrics.random_logit",
    "xaikit.builtins.metrics.sparseness",
)
"""xaikit's own plugin modules, registered exactly as third-party plugins are."""

HOOKS = tuple(name for name in vars(hookspecs) if name.startswith("register_"))
"""The hooks' names, as :mod:`xaikit.plugin.hookspecs` specifies them."""

KINDS: Dict[str, Tuple[str, type]] = {
    "explainer": ("register_explainers", Explainer),
    "adapter": ("register_model_adapters", ModelAdapter),
    "sink": ("register_sinks", Sink),
    "metric": ("register_metrics", Metric),
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
    """Every registered object by kind and name, and what went wrong on the way."""

    items: Dict[str, Dict[str, Registration]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    problems: List[str] = field(default_factory=list)
    """Plugins that failed, misspelt hooks, refused explainers, name clashes: each a
    :class:`PluginWarning`, and a ``warning:`` line of every ``xaikit`` command."""
    unusable: Dict[Tuple[str, str], str] = field(default_factory=dict)
    """Names that give a :class:`PluginError` with this message: an explainer refused,
    a name two third-party plugins registered."""

    def get(self, kind: str, name: str) -> Any:
        if name in self.items[kind]:
            return self.items[kind][name].obj
        if (kind, name) in self.unusable:
            raise PluginError(self.unusable[kind, name])
        known = ", ".join(sorted(self.items[kind])) or "none"
        raise UnknownPluginError(f"no {kind} named {name!r} (installed: {known})")


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
    reg = Registry(problems=list(_load_failures))
    for plugin, obj in pm.list_name_plugin():
        reg.problems += [f"plugin {plugin!r} from {_packages.get(plugin, plugin)}: {problem}"
                         for problem in hook_problems(obj, pm)]
    candidates: Dict[Tuple[str, str], List[Registration]] = {}
    for kind, (hook_name, base) in KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():  # registration order
            plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
            package = _packages.get(plugin, plugin)

            def register(obj: Any, kind=kind, base=base, plugin=plugin, package=package) -> None:
                registration = _checked(kind, base, obj, plugin, package)
                refusal = _refusal(registration)
                if refusal:
                    reg.problems.append(refusal)
                    reg.unusable[kind, registration.name] = refusal
                else:
                    candidates.setdefault((kind, registration.name), []).append(registration)

            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except Exception as exc:
                reg.problems.append(f"plugin {plugin!r} from {package} failed in {hook_name}: "
                                    f"{type(exc).__name__}: {exc}")
    for (kind, name), registrations in candidates.items():
        _settle(reg, kind, name, registrations)
    for message in reg.problems:
        warnings.warn(message, PluginWarning, stacklevel=3)
    return reg


def hook_problems(plugin: Any, pm: Optional[pluggy.PluginManager] = None) -> List[str]:
    """Hook implementations in ``plugin`` that match no hook (a misspelt name), which
    would never be called: what pluggy's ``check_pending`` finds, every one."""
    pm = pm or plugin_manager()
    problems = []
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None or opts.get("optionalhook") or attr in HOOKS:
            continue
        close = get_close_matches(attr, HOOKS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"the hooks are {', '.join(HOOKS)}"
        problems.append(f"{attr!r} is not an xaikit hook and is never called; {hint}")
    return problems


def _checked(kind: str, base: type, obj: Any, plugin: str, package: str) -> Registration:
    if not isinstance(obj, base):
        raise PluginError(f"plugin {plugin!r} from {package} registered {obj!r}, "
                          f"which is not a {base.__name__} instance")
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"plugin {plugin!r} from {package} registered a {kind} without a name")
    return Registration(kind, name, obj, plugin, package)


def _refusal(registration: Registration) -> Optional[str]:
    """Why an explainer is refused: parameters named like the run's options, which would
    capture them (``--input``, ``labels=``). None: it is accepted."""
    if registration.kind != "explainer":
        return None
    clashing = reserved_fields(registration.obj.Params)
    if not clashing:
        return None
    fields = ", ".join(repr(f) for f in clashing)
    return (f"plugin {registration.plugin!r} from {registration.package}: explainer "
            f"{registration.name!r} is not registered: its parameter{'s' * (len(clashing) > 1)} "
            f"{fields} {'has' if len(clashing) == 1 else 'have'} the name of a run option "
            f"({', '.join(option_name(f) for f in clashing)}); rename "
            f"{'it' if len(clashing) == 1 else 'them'}")


def _settle(reg: Registry, kind: str, name: str, registrations: List[Registration]) -> None:
    """Record the registration of ``name``. Of several, xaikit's own keeps the name and the
    others are ignored; among third parties only, the name is unusable. Either way a
    warning names every plugin and package."""
    if len(registrations) == 1:
        reg.items[kind][name] = registrations[0]
        return
    registrations = sorted(registrations, key=lambda r: r.package != OWN_PACKAGE)  # own first
    by = [f"by plugin {r.plugin!r} from {r.package}" for r in registrations]
    times = "twice" if len(by) == 2 else f"{len(by)} times"
    message = f"{kind} name {name!r} is registered {times}: {', '.join(by[:-1])} and {by[-1]}"
    own = [r for r in registrations if r.package == OWN_PACKAGE]
    if len(own) == 1:
        reg.items[kind][name] = own[0]
        others = ", ".join(sorted({r.package for r in registrations if r is not own[0]}))
        reg.problems.append(f"{message}; xaikit's own is used, not {others}'s")
    else:
        reg.unusable[kind, name] = message
        reg.problems.append(message)


class PluginWarning(UserWarning):
    """A plugin failed to load or register; the other plugins still work."""
