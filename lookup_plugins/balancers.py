"""The balancer contract: which balancers exist and what the dispatcher does for each, read once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
  name: balancers
  short_description: The balancer contract, one entry per balancer lbfarm knows
  description:
    - The registry is the list of choices of C(balancer) in C(roles/balancer/meta/argument_specs.yml).
      Each name there is an adapter, the role C(roles/<name>_lb), which describes itself in
      C(meta/balancer.yml) (its unit, its files, how it reloads, its canary, its unit's drop-in) and provides the
      entry points of C(ENTRY_POINTS) as C(tasks/<entry point>.yml).
    - The result maps each name to its C(meta/balancer.yml) with every key filled in, plus
      C(name), C(role), C(variables) (the role's public C(<name>_lb_*) variables without the
      prefix) and C(defaults) (their defaults that are not templates), which the filters
      C(farm_settings) and C(farm_endpoints) read.
    - Roles, the benchmark and the tests read the contract here and nowhere else; a malformed
      adapter is refused with a message naming the file and the key.
  options:
    _terms:
      description: Balancer names; none gives the whole contract as one dict.
"""

EXAMPLES = r"""
_balancer_contract: "{{ lookup('balancers') }}"
# {'haproxy': {'name': 'haproxy', 'role': 'haproxy_lb', 'unit': 'haproxy', 'files': ['/etc/haproxy/haproxy.cfg'],
#              'reload': 'reloaded', 'reuseport': True, 'in_kernel': False, 'health_checks': True, 'http2': True,
#              'canary': {'argv': [...], 'user': 'root', 'properties': []}, 'dropin': '[Service]...',
#              'variables': ['backends', 'port', ...], 'defaults': {'port': 80, ...}}, ...}
_haproxy: "{{ lookup('balancers', 'haproxy') }}"
"""

RETURN = r"""
_raw:
  description: The whole contract (a dict by name), or the entry of each name asked for.
  type: list
"""

ROLES = Path(__file__).resolve().parents[1] / "roles"
# What every adapter provides as tasks/<entry point>.yml: check its inputs (changing nothing),
# install its daemon without starting it, write its configuration (checked by the daemon before it
# lands), say where its own pages are, put one backend in a state. An adapter with a canary also
# provides canary; one without a unit on the balancer host (an appliance), start and stop.
ENTRY_POINTS = ("preflight", "install", "configure", "summary", "state")
# Each key of meta/balancer.yml: its type and its value when the adapter leaves it out.
KEYS: dict[str, tuple[type | tuple[type, ...], Any]] = {
    "unit": ((str, type(None)), None),
    "files": (list, []),
    "reload": (str, "restarted"),
    "reuseport": (bool, False),
    "in_kernel": (bool, False),
    "health_checks": (bool, False),
    "http2": (bool, False),
    "tls_passthrough": (bool, False),
    "requests_counter": (str, ""),
    "node_metrics": (str, ""),
    "canary": ((dict, type(None)), None),
    "dropin": (str, ""),
}
RELOADS = ("reloaded", "restarted")
CANARY_KEYS = {"argv": list, "user": str, "properties": list}
# The canary's argv names the copy of the new configuration as this word (canary.yml replaces it).
CANARY_FILE = "{canary_file}"

_cache: dict[tuple[str, float], dict[str, dict[str, Any]]] = {}


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise AnsibleLookupError(f"{path}: cannot be read as YAML: {error}") from error


def registry(roles: Path) -> list[str]:
    """The balancer names: the choices of `balancer` in the dispatcher's argument specs."""
    path = roles / "balancer" / "meta" / "argument_specs.yml"
    try:
        names = _load(path)["argument_specs"]["main"]["options"]["balancer"]["choices"]
    except (KeyError, TypeError) as error:
        raise AnsibleLookupError(f"{path}: argument_specs.main.options.balancer.choices is missing") from error
    if not isinstance(names, list) or not all(isinstance(n, str) and n.isidentifier() for n in names):
        raise AnsibleLookupError(f"{path}: the choices of balancer must be a list of names, got {names!r}")
    return names


def _variables(role: Path, name: str) -> dict[str, Any]:
    """The role's public variables (<name>_lb_*, in defaults/main.yml) without the prefix, and their defaults."""
    prefix = f"{name}_lb_"
    return {
        key[len(prefix) :]: value
        for key, value in (_load(role / "defaults" / "main.yml") or {}).items()
        if key.startswith(prefix)
    }


def _plain(value: Any) -> bool:
    """A default that needs no Ansible to read (no template in it)."""
    return not (isinstance(value, str) and "{{" in value)


def _checked(path: Path, data: Any) -> dict[str, Any]:
    """meta/balancer.yml with every key typed and filled in."""
    if not isinstance(data, Mapping):
        raise AnsibleLookupError(f"{path}: must be a mapping of {', '.join(KEYS)}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise AnsibleLookupError(f"{path}: unknown key {unknown[0]!r}: use {', '.join(KEYS)}")
    entry = {}
    for key, (kind, default) in KEYS.items():
        value = data.get(key, default)
        if not isinstance(value, kind) or (kind is bool and not isinstance(value, bool)):
            raise AnsibleLookupError(f"{path}: {key}={value!r} has the wrong type")
        entry[key] = value
    if not all(isinstance(f, str) and f.startswith("/") for f in entry["files"]):
        raise AnsibleLookupError(f"{path}: files={entry['files']!r} must be absolute paths")
    if entry["reload"] not in RELOADS:
        raise AnsibleLookupError(f"{path}: reload={entry['reload']!r}: use one of {', '.join(RELOADS)}")
    if entry["canary"] is not None:
        entry["canary"] = _checked_canary(path, entry["canary"])
    return entry


def _checked_canary(path: Path, canary: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(canary) - set(CANARY_KEYS))
    if unknown:
        raise AnsibleLookupError(f"{path}: unknown key canary.{unknown[0]}: use {', '.join(CANARY_KEYS)}")
    checked = {"properties": [], **canary}
    for key, kind in CANARY_KEYS.items():
        if not isinstance(checked.get(key), kind):
            raise AnsibleLookupError(f"{path}: canary.{key}={checked.get(key)!r} must be a {kind.__name__}")
    if CANARY_FILE not in checked["argv"]:
        raise AnsibleLookupError(f"{path}: canary.argv must name the new configuration as {CANARY_FILE}")
    return checked


def entry_points(entry: Mapping[str, Any]) -> list[str]:
    """The tasks files an adapter must provide, from what its meta/balancer.yml says."""
    return [
        *ENTRY_POINTS,
        *(["canary"] if entry["canary"] else []),
        *(["start", "stop"] if entry["unit"] is None else []),
    ]


def adapter(roles: Path, name: str) -> dict[str, Any]:
    """One balancer's entry of the contract, its role checked against it."""
    role = roles / f"{name}_lb"
    path = role / "meta" / "balancer.yml"
    if not path.is_file():
        raise AnsibleLookupError(f"balancer {name!r} is in the registry but {path} does not exist")
    entry = _checked(path, _load(path))
    missing = [step for step in entry_points(entry) if not (role / "tasks" / f"{step}.yml").is_file()]
    if missing:
        raise AnsibleLookupError(f"{role}: the contract needs tasks/{missing[0]}.yml ({path} asks for it)")
    variables = _variables(role, name)
    if not isinstance(variables.get("port"), int):
        raise AnsibleLookupError(f"{role}/defaults/main.yml: {name}_lb_port must be the farm's port, a number")
    defaults = {key: value for key, value in variables.items() if _plain(value)}
    return {"name": name, "role": f"{name}_lb", **entry, "variables": sorted(variables), "defaults": defaults}


def contract(roles: Path = ROLES) -> dict[str, dict[str, Any]]:
    """Every balancer of the registry, by name (read again only when a file of the roles changed)."""
    stamp = max((p.stat().st_mtime for p in roles.glob("*/*/*.yml")), default=0.0)
    key = (str(roles), stamp)
    if key not in _cache:
        _cache.clear()
        _cache[key] = {name: adapter(roles, name) for name in registry(roles)}
    return _cache[key]


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[Any]:
        balancers = contract()
        if not terms:
            return [balancers]
        unknown = [t for t in terms if t not in balancers]
        if unknown:
            raise AnsibleLookupError(f"balancer {unknown[0]!r} is unknown: use one of {', '.join(balancers)}")
        return [balancers[t] for t in terms]
