"""lbfarm filters: one validated backend list, rendered for each balancer."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
  name: farm
  short_description: Build the farm's backend list and render it for each balancer
  description:
    - C(farm_backends) reads the C(backends) group and each host's C(lab_address) and
      C(backend_*) variables into one validated list of dicts.
    - C(farm_nginx_servers), C(farm_haproxy_servers), C(farm_gobetween_static_list) render that
      list as the arguments of nginx C(server) lines, HAProxy C(server) lines and gobetween
      C(static_list) entries; C(farm_ipvs_rules) renders it as C(ipvsadm-restore) lines and
      C(farm_ipvs_keepalived) as keepalived's C(virtual_server) block with an HTTP check per real server.
    - C(farm_shares) gives the share of requests each backend should get from its weight.
    - C(farm_balancer_settings) gives a balancer host's C(<name>_lb_*) values (the inventory's,
      else the role's defaults), for roles on other hosts such as the IPVS real servers.
    - C(farm_endpoints) says where the farm answers for a balancer host and a balancer (URL, port,
      VIP), where that balancer's stats page and API are, and the share per backend: the one
      source for the roles, the proof, the benchmark and the tests.
    - C(farm_backend_states) checks a change of one backend's state (playbooks/backend.yml) and
      gives the balancer host's new record of states; C(farm_ipvs_state_argv) gives the ipvsadm
      command that applies a state to the running IPVS table.
    - C(farm_health_window) gives the seconds a balancer's health checks take to judge a backend,
      down or up again (0 where it has none or judges on each request): how long the balancer
      role's health gate waits before it believes that a new configuration serves.
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
        - Set by the balancer role from the balancer host's record (playbooks/backend.yml writes it),
          not in the inventory.
"""

EXAMPLES = r"""
_backends: "{{ groups['backends'] | farm_backends(hostvars) }}"
# [{'name': 'm1', 'address': '192.168.56.2', 'port': 80, 'weight': 2, ...}, ...]

_nginx_servers: "{{ _backends | farm_nginx_servers('round_robin') }}"
# ['192.168.56.2 weight=2 max_fails=1', '192.168.56.3 weight=1 max_fails=1']

_haproxy_servers: "{{ _backends | farm_haproxy_servers(cookie=true, check=true) }}"
# ['m1 192.168.56.2:80 maxconn 32 weight 2 cookie m1 check', ...]

_shares: "{{ _backends | farm_shares }}"
# {'m1': 0.6667, 'm2': 0.3333}

_keepalived: "{{ _backends | farm_ipvs_keepalived('192.168.100.1', 80, 'wrr', check={'path': '/'}) }}"
# ['virtual_server 192.168.100.1 80 {', '    delay_loop 2', '    lb_algo wrr', '    lb_kind NAT', ...,
#  '    real_server 192.168.56.2 80 {', '        weight 2', '        HTTP_GET {', ...]

_endpoints: "{{ hostvars[groups['balancers'][0]] | farm_endpoints(balancer, _backends) }}"
# {'balancer': 'haproxy', 'host': 'm3', 'address': '192.168.56.4', 'port': 80, 'vip': None,
#  'url': 'http://192.168.56.4:80/', 'stats': {'url': 'http://192.168.56.4:9999/stats', 'port': 9999,
#  'user': 'admin', 'realm': 'HAProxy Statistics'}, 'api': None, 'shares': {'m1': 0.75, 'm2': 0.25}}
"""

# Per-host inventory variables read by farm_backends, with their defaults.
BACKEND_DEFAULTS: dict[str, Any] = {
    "port": 80,
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

NGINX_METHODS = ("round_robin", "least_conn", "ip_hash", "hash")
# nginx rejects "backup" in an upstream that uses one of these.
NGINX_NO_BACKUP = ("ip_hash", "hash")
HAPROXY_MAX_WEIGHT = 256
_HAPROXY_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
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


def farm_backends(hosts: Sequence[str] | None, hostvars: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """Read the backends group into a validated list, one dict per host, in inventory order."""
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
        backend = {
            "name": str(host),
            "address": _address(host, hvars),
            "port": _integer(host, "backend_port", raw["port"], 1, 65535),
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


def farm_nginx_servers(backends: list[Mapping[str, Any]], method: str = "round_robin") -> list[str]:
    """Render each backend as the arguments of an nginx upstream `server` line."""
    if method not in NGINX_METHODS:
        raise AnsibleFilterError(f"nginx method {method!r} is unknown: use one of {', '.join(NGINX_METHODS)}")
    lines = []
    for b in _check_list(backends):
        if b["weight"] < 1:
            raise _fail(b["name"], "backend_weight", b["weight"], "is out of range for nginx: use 1 or more")
        if b["backup"] and method in NGINX_NO_BACKUP:
            raise _fail(b["name"], "backend_backup", True, f"cannot be used with nginx method {method}")
        target = b["address"] if b["port"] == 80 else f"{b['address']}:{b['port']}"
        parts = [target, f"weight={b['weight']}", f"max_fails={b['max_fails']}"]
        if b["fail_timeout"] is not None:
            parts.append(f"fail_timeout={b['fail_timeout']}s")
        if b["max_conns"]:
            parts.append(f"max_conns={b['max_conns']}")
        if b["backup"]:
            parts.append("backup")
        # open-source nginx has no drain: either state takes the server out, in-flight requests
        # finish in the old workers of the graceful reload
        if b.get("state", "ready") != "ready":
            parts.append("down")
        lines.append(" ".join(parts))
    return lines


def farm_haproxy_servers(backends: list[Mapping[str, Any]], cookie: bool = True, check: bool = True) -> list[str]:
    """Render each backend as the arguments of an HAProxy `server` line."""
    lines = []
    for b in _check_list(backends):
        if not _HAPROXY_NAME.match(b["name"]):
            raise _fail(b["name"], "inventory_hostname", b["name"], "is not a valid HAProxy server name")
        if not 0 <= b["weight"] <= HAPROXY_MAX_WEIGHT:
            raise _fail(
                b["name"], "backend_weight", b["weight"], f"is out of range for HAProxy: use 0-{HAPROXY_MAX_WEIGHT}"
            )
        parts = [b["name"], f"{b['address']}:{b['port']}"]
        if b["max_conns"]:
            parts.append(f"maxconn {b['max_conns']}")
        # HAProxy's config has no drain keyword: weight 0 is what its runtime "state drain" does
        # (no new sessions, those with its cookie still reach it); maint starts it "disabled".
        parts.append(f"weight {0 if b.get('state') == 'drain' else b['weight']}")
        if cookie:
            parts.append(f"cookie {b['name']}")
        if check:
            parts.append("check")
        if b["backup"]:
            parts.append("backup")
        if b.get("state") == "maint":
            parts.append("disabled")
        lines.append(" ".join(parts))
    return lines


def farm_gobetween_static_list(backends: list[Mapping[str, Any]]) -> list[str]:
    """Render each backend as a gobetween static_list entry: "host:port weight=N priority=N".

    gobetween's parser takes weight, then priority, in that order; a backup becomes priority 2.
    Its grammar has no per-backend connection cap, so backend_max_conns is refused here rather
    than dropped (gobetween_lb_max_connections caps the whole server). It has no per-backend state
    either: a backend that is not ready is left out of the list.
    """
    entries = []
    for b in _check_list(backends):
        if b.get("state", "ready") != "ready":
            continue
        if b["max_conns"]:
            raise _fail(
                b["name"],
                "backend_max_conns",
                b["max_conns"],
                "has no equivalent in gobetween's static_list: unset it, and cap the server with "
                "gobetween_lb_max_connections",
            )
        priority = b["priority"] if b["priority"] is not None else (2 if b["backup"] else 1)
        entries.append(f"{b['address']}:{b['port']} weight={b['weight']} priority={priority}")
    return entries


IPVS_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "sh")
IPVS_METHODS = {"masquerade": "-m", "route": "-g"}


def _ipvs_real_servers(
    backends: list[Mapping[str, Any]], port: int, scheduler: str, method: str
) -> list[tuple[str, int, int]]:
    """(address, port, weight) of each real server in the table: maint left out, drain weight 0."""
    if scheduler not in IPVS_SCHEDULERS:
        raise AnsibleFilterError(f"IPVS scheduler {scheduler!r} is unknown: use one of {', '.join(IPVS_SCHEDULERS)}")
    if method not in IPVS_METHODS:
        raise AnsibleFilterError(f"IPVS method {method!r} is unknown: use one of {', '.join(IPVS_METHODS)}")
    servers = []
    for b in _check_list(backends):
        if b["backup"]:
            raise _fail(b["name"], "backend_backup", True, "has no equivalent in IPVS: remove the backend or unset it")
        if method == "route" and b["port"] != port:
            raise _fail(b["name"], "backend_port", b["port"], f"must be the virtual port {port} with direct routing")
        if b.get("state") == "maint":  # out of the table; drain is weight 0: no new connections
            continue
        servers.append((b["address"], b["port"], 0 if b.get("state") == "drain" else b["weight"]))
    return servers


def farm_ipvs_rules(
    backends: list[Mapping[str, Any]], vip: str, port: int = 80, scheduler: str = "rr", method: str = "masquerade"
) -> list[str]:
    """The virtual service and its real servers, as ipvsadm-restore lines (and as ipvsadm -Sn prints them)."""
    service = f"{vip}:{port}"
    return [f"-A -t {service} -s {scheduler}"] + [
        f"-a -t {service} -r {address}:{rs_port} {IPVS_METHODS[method]} -w {weight}"
        for address, rs_port, weight in _ipvs_real_servers(backends, port, scheduler, method)
    ]


# keepalived's names of the forwarding methods (lb_kind), and the HTTP check's settings.
KEEPALIVED_LB_KINDS = {"masquerade": "NAT", "route": "DR"}
KEEPALIVED_CHECK = {"path": "/", "status": 200, "interval": 2, "connect_timeout": 2, "retries": 1, "retry_delay": 1}


def farm_ipvs_keepalived(
    backends: list[Mapping[str, Any]],
    vip: str,
    port: int = 80,
    scheduler: str = "rr",
    method: str = "masquerade",
    check: Mapping[str, Any] | None = None,
) -> list[str]:
    """The same virtual service as keepalived's virtual_server block, an HTTP_GET check per real server.

    keepalived's checker (keepalived -C) then owns the table: a real server whose check fails
    leaves it, and comes back with its weight once the check passes again.
    """
    check = {**KEEPALIVED_CHECK, **(check or {})}
    path = str(check["path"])
    if not path.startswith("/") or re.search(r"[\s\"{}!#]", path):
        raise AnsibleFilterError(f"ipvs_lb_check_path={path!r} must be a URL path starting with / without spaces")
    numbers = {}
    for key, low, high in (
        ("status", 100, 599),
        ("interval", 1, None),
        ("connect_timeout", 1, None),
        ("retries", 0, None),
        ("retry_delay", 0, None),
    ):
        try:
            numbers[key] = _integer("", key, check[key], low, high)
        except AnsibleFilterError as err:  # "backend : key=value why" -> the variable's own name
            raise AnsibleFilterError(f"ipvs_lb_check_{str(err).split(': ', 1)[1]}") from None
    lines = [
        f"virtual_server {vip} {port} {{",
        f"    delay_loop {numbers['interval']}",
        f"    lb_algo {scheduler}",
        f"    lb_kind {KEEPALIVED_LB_KINDS[method]}",
        "    protocol TCP",
    ]
    for address, rs_port, weight in _ipvs_real_servers(backends, port, scheduler, method):
        lines += [
            f"    real_server {address} {rs_port} {{",
            f"        weight {weight}",
            "        HTTP_GET {",
            "            url {",
            f"                path {path}",
            f"                status_code {numbers['status']}",
            "            }",
            f"            connect_timeout {numbers['connect_timeout']}",
            f"            retry {numbers['retries']}",
            f"            delay_before_retry {numbers['retry_delay']}",
            "        }",
            "    }",
        ]
    return [*lines, "}"]


def farm_ipvs_state_argv(
    backend: Mapping[str, Any],
    state: str,
    vip: str,
    port: int = 80,
    method: str = "masquerade",
    present: bool = True,
) -> list[str]:
    """The ipvsadm command that puts one real server of the running table in `state`.

    drain keeps it with weight 0 (its connections finish, no new ones), maint deletes it, ready
    gives it its weight back, adding it again when maint had deleted it (present=False).
    """
    if method not in IPVS_METHODS:
        raise AnsibleFilterError(f"IPVS method {method!r} is unknown: use one of {', '.join(IPVS_METHODS)}")
    state = _state(str(backend.get("name")), "state", state)
    target = ["-t", f"{vip}:{port}", "-r", f"{backend['address']}:{backend['port']}"]
    if state == "maint":
        return ["ipvsadm", "-d", *target]
    weight = 0 if state == "drain" else backend["weight"]
    return ["ipvsadm", "-e" if present else "-a", *target, IPVS_METHODS[method], "-w", str(weight)]


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


# Each balancer is the role <name>_lb; its defaults say where it answers unless the inventory does.
ROLES_DIR = Path(__file__).resolve().parents[1] / "roles"


def _role_settings(balancer: str, host_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The balancer role's variables (prefix dropped): the inventory's value, else the role default.

    Only variables the role has a default for are read, and a default that is a template (it
    needs Ansible) counts only where the inventory sets the variable.
    """
    path = ROLES_DIR / f"{balancer}_lb" / "defaults" / "main.yml"
    if not isinstance(balancer, str) or not path.is_file():
        raise AnsibleFilterError(f"balancer {balancer!r} is unknown: there is no role roles/{balancer}_lb")
    prefix = f"{balancer}_lb_"
    settings = {}
    for key, default in (yaml.safe_load(path.read_text()) or {}).items():
        if not key.startswith(prefix):
            continue
        if key in host_vars:
            settings[key[len(prefix) :]] = host_vars[key]
        elif not (isinstance(default, str) and "{{" in default):
            settings[key[len(prefix) :]] = default
    return settings


def farm_balancer_settings(host_vars: Mapping[str, Any], balancer: str) -> dict[str, Any]:
    """A balancer host's settings of the role <balancer>_lb, e.g. the IPVS VIP for its real servers."""
    if not isinstance(host_vars, Mapping):
        raise AnsibleFilterError(f"farm_balancer_settings expects a balancer host's hostvars, got {host_vars!r}")
    return _role_settings(balancer, host_vars)


def _is_on(value: Any) -> bool:
    if isinstance(value, str):
        return _BOOL_WORDS.get(value.strip().lower(), False)
    return bool(value)


def farm_endpoints(
    host_vars: Mapping[str, Any], balancer: str, backends: list[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Where the farm answers on this balancer host, its stats page and API, and the expected shares.

    By convention of the balancer roles: <name>_lb_port is the farm's port; <name>_lb_vip, when
    the role has one, else the inventory's lab_vip (the floating address of a pair of balancers),
    is where the farm answers instead of the host's address (host_url: where this host answers by
    itself, its own address on a pair); <name>_lb_stats
    with _stats_port, _stats_uri, _stats_user, _stats_realm is a stats page on the host's address;
    <name>_lb_api with _api_bind and _api_user is an API on the host itself.
    """
    if not isinstance(host_vars, Mapping):
        raise AnsibleFilterError(f"farm_endpoints expects a balancer host's hostvars, got {host_vars!r}")
    host = str(host_vars.get("inventory_hostname", "the balancer host"))
    settings = _role_settings(balancer, host_vars)
    address = _address(host, {k: host_vars.get(k) for k in ("lab_address", "ansible_host")}, "balancer host")
    if "port" not in settings:
        raise AnsibleFilterError(f"roles/{balancer}_lb/defaults/main.yml has no {balancer}_lb_port")
    port = _integer(host, f"{balancer}_lb_port", settings["port"], 1, 65535)
    # the balancer's own VIP (IPVS), else the address a pair of balancers shares (lab_vip)
    vip = settings.get("vip") or host_vars.get("lab_vip") or None
    stats = None
    if _is_on(settings.get("stats")) and "stats_port" in settings:
        stats_port = _integer(host, f"{balancer}_lb_stats_port", settings["stats_port"], 1, 65535)
        stats = {
            "url": f"http://{address}:{stats_port}{settings.get('stats_uri', '/')}",
            "port": stats_port,
            "user": settings.get("stats_user"),
            "realm": settings.get("stats_realm"),
        }
    api = None
    if _is_on(settings.get("api")) and settings.get("api_bind"):
        api = {"url": f"http://{settings['api_bind']}/", "user": settings.get("api_user"), "host": host}
    return {
        "balancer": balancer,
        "host": host,
        "address": vip or address,
        "port": port,
        "vip": vip,
        "url": f"http://{vip or address}:{port}/",
        # where this balancer host answers by itself: its own address when the farm's address is
        # one a pair shares (the balancer listens on every address), else the farm's own
        "host_url": f"http://{address if vip and not settings.get('vip') else vip or address}:{port}/",
        "stats": stats,
        "api": api,
        "shares": farm_shares(backends) if backends else None,
    }


_HAPROXY_TIME = re.compile(r"^\s*(\d+)\s*(us|ms|s|m|h|d)?\s*$")
_HAPROXY_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_GO_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _haproxy_seconds(host: str, var: str, value: Any) -> float:
    """An HAProxy time (a number, in milliseconds unless a unit follows: 2s, 500ms)."""
    match = _HAPROXY_TIME.match(str(value))
    if not match:
        raise _fail(host, var, value, "must be an HAProxy time such as 2s or 500ms")
    return int(match.group(1)) * _HAPROXY_TIME_UNITS[match.group(2) or "ms"]


def _go_seconds(host: str, var: str, value: Any) -> float:
    """A Go duration (2s, 1m30s)."""
    text = str(value).strip()
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise _fail(host, var, value, "must be a Go duration such as 2s or 1m30s")
    return sum(float(number) * _GO_DURATION_UNITS[unit] for number, unit in parts)


def farm_health_window(host_vars: Mapping[str, Any], balancer: str) -> float:
    """Seconds the balancer's health checks take to call a backend down, or up again, at most.

    HAProxy: inter x max(fall, rise); gobetween: interval x max(fails, passes) + timeout; IPVS with
    keepalived's checker: interval + (retries + 1) x connect_timeout + retries x retry_delay; nginx
    (it judges each request), IPVS without a checker and Zevenet (checked on its appliance): 0.
    """
    if not isinstance(host_vars, Mapping):
        raise AnsibleFilterError(f"farm_health_window expects a balancer host's hostvars, got {host_vars!r}")
    host = str(host_vars.get("inventory_hostname", "the balancer host"))
    s = _role_settings(balancer, host_vars)
    if balancer == "haproxy" and _is_on(s.get("check")) and s.get("check_path"):
        inter = _haproxy_seconds(host, "haproxy_lb_check_inter", s["check_inter"])
        fall = _integer(host, "haproxy_lb_check_fall", s["check_fall"], 1)
        rise = _integer(host, "haproxy_lb_check_rise", s["check_rise"], 1)
        return inter * max(fall, rise)
    if balancer == "gobetween" and s.get("healthcheck") not in (None, "none"):
        interval = _go_seconds(host, "gobetween_lb_healthcheck_interval", s["healthcheck_interval"])
        timeout = _go_seconds(host, "gobetween_lb_healthcheck_timeout", s["healthcheck_timeout"])
        fails = _integer(host, "gobetween_lb_healthcheck_fails", s["healthcheck_fails"], 1)
        passes = _integer(host, "gobetween_lb_healthcheck_passes", s["healthcheck_passes"], 1)
        return interval * max(fails, passes) + timeout
    if balancer == "ipvs" and s.get("checker") == "keepalived":
        interval = _integer(host, "ipvs_lb_check_interval", s["check_interval"], 1)
        connect = _integer(host, "ipvs_lb_check_connect_timeout", s["check_connect_timeout"], 1)
        retries = _integer(host, "ipvs_lb_check_retries", s["check_retries"], 0)
        delay = _integer(host, "ipvs_lb_check_retry_delay", s["check_retry_delay"], 0)
        return float(interval + (retries + 1) * connect + retries * delay)
    return 0.0


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
            "farm_nginx_servers": farm_nginx_servers,
            "farm_haproxy_servers": farm_haproxy_servers,
            "farm_gobetween_static_list": farm_gobetween_static_list,
            "farm_ipvs_rules": farm_ipvs_rules,
            "farm_ipvs_keepalived": farm_ipvs_keepalived,
            "farm_shares": farm_shares,
            "farm_endpoints": farm_endpoints,
            "farm_balancer_settings": farm_balancer_settings,
            "farm_backend_states": farm_backend_states,
            "farm_ipvs_state_argv": farm_ipvs_state_argv,
            "farm_health_window": farm_health_window,
            "farm_refusal": farm_refusal,
        }
