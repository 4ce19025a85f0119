"""lbfarm filters: one validated backend list, rendered for each balancer."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
  name: farm
  short_description: The farm's model - backends, shares, settings, endpoints, states - for every balancer
  description:
    - C(farm_backends) reads the C(backends) group and each host's C(lab_address) and
      C(backend_*) variables into one validated list of dicts, in the states the balancer host's
      record gives (C(balancer_states)). Each balancer's adapter renders that list with its own
      filter (roles/<name>_lb/filter_plugins): nothing of one balancer is here.
    - C(farm_shares) gives the share of requests each backend should get from its weight.
    - C(farm_settings) gives a balancer host's C(<name>_lb_*) values (the inventory's, else the
      adapter's defaults from the balancer contract, lookup C(balancers)), for roles on other
      hosts such as the IPVS real servers.
    - C(farm_endpoints) says where the farm answers for a balancer host and an adapter (URL, port,
      VIP), where that balancer's stats page and API are, and the share per backend: the one
      source for the roles, the proof, the benchmark and the tests.
    - C(farm_backend_states) checks a change of one backend's state (playbooks/backend.yml) and
      gives the balancer host's new record of states.
    - C(farm_refusal) gives the error lines a daemon printed when it refused a configuration
      (a failed C(validate)), for the failure message.
    - Every error names the host, the variable and the bad value.
  options:
    backend_address:
      description: Address the balancer uses for the host; defaults to C(lab_address), then C(ansible_host).
    backend_port: {description: TCP port of the backend, 1-65535, default 80.}
    backend_weight: {description: Relative weight, default 1 (nginx 1 or more, HAProxy 0-256).}
    backend_max_fails: {description: Failed attempts before nginx marks the backend down, default 1.}
    backend_fail_timeout: {description: nginx fail_timeout in seconds; unset keeps nginx's default.}
    backend_max_conns: {description: Connection cap per backend (nginx max_conns, HAProxy maxconn).}
    backend_backup: {description: Use the backend only when the others are down, default false.}
    backend_priority: {description: gobetween priority (lowest number served first); default 1, or 2 for a backup.}
    backend_state:
      description:
        - ready (default), drain (no new requests, those in flight finish) or maint (out of rotation).
        - Given to C(farm_backends) as its argument C(states), the balancer host's record
          (playbooks/backend.yml writes it, the balancer role publishes it as the fact
          C(balancer_states)), rather than set in the inventory.
"""

EXAMPLES = r"""
_backends: "{{ groups['backends'] | farm_backends(hostvars, balancer_states | default(none)) }}"
# [{'name': 'm1', 'address': '192.168.56.2', 'port': 80, 'weight': 2, ...}, ...]

_shares: "{{ _backends | farm_shares }}"
# {'m1': 0.6667, 'm2': 0.3333}

_settings: "{{ hostvars['m3'] | farm_settings(lookup('balancers', 'ipvs')) }}"
# {'port': 80, 'vip': '192.168.100.1', 'scheduler': 'wrr', ...}

_endpoints: "{{ hostvars[groups['balancers'][0]] | farm_endpoints(lookup('balancers', balancer), _backends) }}"
# {'balancer': 'haproxy', 'host': 'm3', 'address': '192.168.56.4', 'port': 80, 'vip': None,
#  'url': 'http://192.168.56.4:80/', 'https_url': 'https://192.168.56.4:443/',
#  'stats': {'url': 'https://192.168.56.4:9999/stats', 'port': 9999,
#  'user': 'admin', 'realm': 'HAProxy Statistics'}, 'api': None, 'shares': {'m1': 0.75, 'm2': 0.25}}
"""

# Per-host inventory variables read by farm_backends, with their defaults.
BACKEND_DEFAULTS: dict[str, Any] = {
    "port": 80,
    # where Apache serves HTTPS, for a balancer that passes TLS through to the backends (IPVS)
    "https_port": 443,
    "weight": 1,
    "max_fails": 1,
    "fail_timeout": None,
    "max_conns": None,
    "backup": False,
    "priority": None,
    "state": "ready",
}
# A backend's state (playbooks/backend.yml): ready, drain (no new requests or connections, those
# in flight finish), maint (out of rotation).
BACKEND_STATES = ("ready", "drain", "maint")

_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _fail(host: str, var: str, value: Any, why: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"backend {host}: {var}={value!r} {why}")


def _integer(host: str, var: str, value: Any, low: int, high: int | None = None) -> int:
    """Return value as an int within [low, high], accepting digit strings from INI inventories."""
    if isinstance(value, bool):
        raise _fail(host, var, value, "is not an integer")
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if not isinstance(value, int):
        raise _fail(host, var, value, "is not an integer")
    if value < low or (high is not None and value > high):
        bounds = f"{low}-{high}" if high is not None else f"{low} or more"
        raise _fail(host, var, value, f"is out of range: use {bounds}")
    return value


def _boolean(host: str, var: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    raise _fail(host, var, value, "is not a boolean: use true or false")


def _state(host: str, var: str, value: Any) -> str:
    if value not in BACKEND_STATES:
        raise _fail(host, var, value, f"is not a backend state: use one of {', '.join(BACKEND_STATES)}")
    return value


def _address(host: str, hvars: Mapping[str, Any], what: str = "backend") -> str:
    for var in ("backend_address", "lab_address", "ansible_host"):
        value = hvars.get(var)
        if value not in (None, ""):
            if not isinstance(value, str) or any(c.isspace() for c in value):
                raise _fail(host, var, value, "is not a host address")
            return value
    raise AnsibleFilterError(
        f"{what} {host}: no address; set lab_address"
        + (" (or backend_address)" if what == "backend" else "")
        + " for it in the inventory"
    )


def farm_backends(
    hosts: Sequence[str] | None, hostvars: Mapping[str, Mapping[str, Any]], states: Mapping[str, Any] | None = None
) -> list[dict]:
    """Read the backends group into a validated list, one dict per host, in inventory order.

    `states` is the balancer host's record of the backends' states (the fact balancer_states that
    the balancer role publishes): a backend it does not name is ready. Without it (None), each
    backend's backend_state host variable is read, else ready.
    """
    if not hosts:
        raise AnsibleFilterError("the backends group is empty: add at least one Apache host to it in the inventory")
    backends: list[dict] = []
    seen_names: set[str] = set()
    seen_endpoints: dict[tuple[str, int], str] = {}
    for host in hosts:
        if host in seen_names:
            raise AnsibleFilterError(f"backend {host}: listed twice in the backends group")
        seen_names.add(host)
        hvars = hostvars.get(host)
        if hvars is None:
            raise AnsibleFilterError(f"backend {host}: not found in the inventory's hostvars")
        raw = {key: hvars.get(f"backend_{key}", default) for key, default in BACKEND_DEFAULTS.items()}
        if states is not None:  # the record is the whole truth: a backend it does not name is ready
            raw["state"] = states.get(host, "ready")
        backend = {
            "name": str(host),
            "address": _address(host, hvars),
            "port": _integer(host, "backend_port", raw["port"], 1, 65535),
            "https_port": _integer(host, "backend_https_port", raw["https_port"], 1, 65535),
            "weight": _integer(host, "backend_weight", raw["weight"], 0),
            "max_fails": _integer(host, "backend_max_fails", raw["max_fails"], 0),
            "fail_timeout": None
            if raw["fail_timeout"] is None
            else _integer(host, "backend_fail_timeout", raw["fail_timeout"], 1),
            "max_conns": None if raw["max_conns"] is None else _integer(host, "backend_max_conns", raw["max_conns"], 0),
            "backup": _boolean(host, "backend_backup", raw["backup"]),
            "priority": None if raw["priority"] is None else _integer(host, "backend_priority", raw["priority"], 0),
            "state": _state(host, "backend_state", raw["state"]),
        }
        endpoint = (backend["address"], backend["port"])
        if endpoint in seen_endpoints:
            raise AnsibleFilterError(
                f"backend {host}: {endpoint[0]}:{endpoint[1]} is already the address of backend "
                f"{seen_endpoints[endpoint]}; each backend needs its own address or port"
            )
        seen_endpoints[endpoint] = host
        backends.append(backend)
    return backends


def _check_list(backends: Any) -> list[Mapping[str, Any]]:
    if not isinstance(backends, list) or not backends:
        raise AnsibleFilterError(f"expected the non-empty list from farm_backends, got {backends!r}")
    return backends


def farm_backend_states(
    record: Mapping[str, Any] | None, backends: list[Mapping[str, Any]], backend: Any, state: Any
) -> dict[str, str]:
    """The balancer host's record of states once `backend` is in `state` (ready ones are left out).

    Refuses an unknown backend or state, and a change that leaves no backend ready, before
    anything changes.
    """
    names = [b["name"] for b in _check_list(backends)]
    if backend not in names:
        raise AnsibleFilterError(
            f"backend={backend!r} is not in the backends group: use one of {', '.join(names)} (-e backend=NAME)"
        )
    if state not in BACKEND_STATES:
        raise AnsibleFilterError(f"state={state!r} is unknown: use one of {', '.join(BACKEND_STATES)} (-e state=NAME)")
    # a record may name a backend that left the inventory since: it no longer counts
    states = {name: str(value) for name, value in (record or {}).items() if name in names and value != "ready"}
    if state == "ready":
        states.pop(backend, None)
    else:
        states[backend] = state
    if all(name in states for name in names):
        listed = ", ".join(f"{name}: {states[name]}" for name in names)
        raise AnsibleFilterError(
            f"state={state} for {backend} would leave no backend ready ({listed}):"
            " make another one ready first (-e backend=NAME -e state=ready)"
        )
    return states


def farm_shares(backends: list[Mapping[str, Any]]) -> dict[str, float]:
    """Expected share of requests per active (non-backup) backend under weighted round-robin."""
    active = [
        b for b in _check_list(backends) if not b["backup"] and b["weight"] > 0 and b.get("state", "ready") == "ready"
    ]
    total = sum(b["weight"] for b in active)
    if not total:
        raise AnsibleFilterError("no backend can take traffic: every backend is a backup or has weight 0")
    return {b["name"]: round(b["weight"] / total, 4) for b in active}


def farm_settings(host_vars: Mapping[str, Any], adapter: Mapping[str, Any]) -> dict[str, Any]:
    """A balancer host's settings of an adapter (prefix dropped): the inventory's value, else the default.

    `adapter` is the balancer's entry of the contract (lookup balancers): `variables` names the
    role's public variables, `defaults` holds the defaults that need no Ansible to read. Only those
    variables are read (a default that is a template counts only where the inventory sets it).
    """
    if not isinstance(host_vars, Mapping):
        raise AnsibleFilterError(f"expected a balancer host's hostvars, got {host_vars!r}")
    if not isinstance(adapter, Mapping) or not {"name", "variables", "defaults"} <= set(adapter):
        raise AnsibleFilterError(f"expected a balancer's entry of lookup('balancers'), got {adapter!r}")
    prefix = f"{adapter['name']}_lb_"
    settings = {}
    for key in adapter["variables"]:
        if prefix + key in host_vars:
            settings[key] = host_vars[prefix + key]
        elif key in adapter["defaults"]:
            settings[key] = adapter["defaults"][key]
    return settings


def _is_on(value: Any) -> bool:
    if isinstance(value, str):
        return _BOOL_WORDS.get(value.strip().lower(), False)
    return bool(value)


def farm_endpoints(
    host_vars: Mapping[str, Any], adapter: Mapping[str, Any], backends: list[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Where the farm answers on this balancer host, its stats page and API, and the expected shares.

    By convention of the adapters: <name>_lb_port is the farm's port; <name>_lb_vip, when the
    role has one, else the inventory's lab_vip (the floating address of a pair of balancers), is
    where the farm answers instead of the host's address (host_url: where this host answers by
    itself, its own address on a pair); <name>_lb_https with _https_port is the same over HTTPS
    (https_url, host_https_url), and then the stats page is over TLS too; <name>_lb_stats with
    _stats_port, _stats_uri, _stats_user, _stats_realm is a stats page on the host's address;
    <name>_lb_api with _api_bind and _api_user is an API on the host itself, over TLS too when the
    balancer serves HTTPS; <name>_lb_metrics with _metrics_port is a Prometheus exporter of its own on
    the host's address, with _metrics_path alone the metrics are on the stats page, behind its password
    (none without the stats page).
    """
    settings = farm_settings(host_vars, adapter)
    balancer = adapter["name"]
    host = str(host_vars.get("inventory_hostname", "the balancer host"))
    address = _address(host, {k: host_vars.get(k) for k in ("lab_address", "ansible_host")}, "balancer host")
    port = _integer(host, f"{balancer}_lb_port", settings.get("port"), 1, 65535)
    # the balancer's own VIP (IPVS), else the address a pair of balancers shares (lab_vip)
    vip = settings.get("vip") or host_vars.get("lab_vip") or None
    host_address = address if vip and not settings.get("vip") else vip or address
    https = _https_port(host, balancer, settings)
    monitored = _is_on(host_vars.get("monitoring_enabled", True))
    return {
        "balancer": balancer,
        "host": host,
        "address": vip or address,
        "port": port,
        "vip": vip,
        "url": f"http://{vip or address}:{port}/",
        # where this balancer host answers by itself: its own address when the farm's address is
        # one a pair shares (the balancer listens on every address), else the farm's own
        "host_url": f"http://{host_address}:{port}/",
        # the same over HTTPS, when the balancer serves it (<name>_lb_https, _https_port)
        "https_url": f"https://{vip or address}:{https}/" if https else None,
        "host_https_url": f"https://{host_address}:{https}/" if https else None,
        "stats": _stats(host, balancer, address, settings),
        "api": _api(host, balancer, settings),
        # monitoring_enabled: the farm-wide switch of every metrics endpoint and of Prometheus
        "metrics": _metrics(host, balancer, address, settings) if monitored else None,
        "shares": farm_shares(backends) if backends else None,
    }


def _https_port(host: str, balancer: str, settings: Mapping[str, Any]) -> int | None:
    if not _is_on(settings.get("https")) or "https_port" not in settings:
        return None
    return _integer(host, f"{balancer}_lb_https_port", settings["https_port"], 1, 65535)


def _stats(host: str, balancer: str, address: str, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    if not _is_on(settings.get("stats")) or "stats_port" not in settings:
        return None
    port = _integer(host, f"{balancer}_lb_stats_port", settings["stats_port"], 1, 65535)
    # a balancer that serves HTTPS serves its stats page over TLS only: the password never in clear
    scheme = "https" if _https_port(host, balancer, settings) else "http"
    return {
        "url": f"{scheme}://{address}:{port}{settings.get('stats_uri', '/')}",
        "port": port,
        "user": settings.get("stats_user"),
        "realm": settings.get("stats_realm"),
    }


def _api(host: str, balancer: str, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    if not _is_on(settings.get("api")) or not settings.get("api_bind"):
        return None
    # as the stats page: a balancer that serves HTTPS serves its API over TLS only (gobetween's [api.tls])
    scheme = "https" if _https_port(host, balancer, settings) else "http"
    return {"url": f"{scheme}://{settings['api_bind']}/", "user": settings.get("api_user"), "host": host}


def _metrics(host: str, balancer: str, address: str, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    if not _is_on(settings.get("metrics")):
        return None
    path = str(settings.get("metrics_path") or "/metrics")
    if "metrics_port" in settings:  # an exporter beside the balancer, on the host's own address
        port = _integer(host, f"{balancer}_lb_metrics_port", settings["metrics_port"], 1, 65535)
        return {"url": f"http://{address}:{port}{path}", "user": None}
    stats = _stats(host, balancer, address, settings)
    if not stats:  # on the stats page, they go with it
        return None
    return {"url": urlunsplit(urlsplit(stats["url"])._replace(path=path)), "user": stats["user"]}


def farm_refusal(result: Mapping[str, Any] | None) -> str:
    """What a daemon said when it refused a configuration: the error lines of a failed task's result.

    A template's `validate` (haproxy -c, nginx -t, netplan generate) fails with "failed to
    validate" and the checker's own output in stderr and stdout: those lines are what the user
    needs, so they come first, the task's message only when the checker printed nothing.
    """
    result = result or {}
    lines = [
        line.rstrip()
        for stream in ("stderr", "stdout")
        for line in str(result.get(stream) or "").splitlines()
        if line.strip()
    ]
    if not lines:
        return str(result.get("msg") or "the check failed and printed nothing")
    return " | ".join(lines)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "farm_backends": farm_backends,
            "farm_shares": farm_shares,
            "farm_endpoints": farm_endpoints,
            "farm_settings": farm_settings,
            "farm_backend_states": farm_backend_states,
            "farm_refusal": farm_refusal,
        }
