"""IPVS's own filters for roles/ipvs_lb: the table, keepalived's virtual service, a state, the health window."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: ipvs_lb
short_description: The farm's backends as an IPVS table, as keepalived's virtual service, and more
description:
  - C(ipvs_lb_rules) renders the validated backend list of the filter C(farm_backends) as
    C(ipvsadm-restore) lines (as C(ipvsadm -Sn) prints them); a backend in maintenance is left
    out, a drained one has weight 0.
  - C(ipvs_lb_keepalived) renders the same virtual services as keepalived's C(virtual_server)
    blocks with a check per real server, HTTP_GET, or SSL_GET for HTTPS (keepalived's checker then
    owns the table).
  - With C(https_port), both add a second virtual service that passes HTTPS through to each
    backend's own TLS on its C(https_port) (Apache's mod_ssl, roles/apache_backend).
  - C(ipvs_lb_state_argv) gives the ipvsadm command that puts one real server of the running
    table in a state (ready, drain, maint).
  - C(ipvs_lb_health_window) gives the seconds keepalived's checker takes to judge a real server,
    interval + (retries + 1) x connect_timeout + retries x retry_delay; 0 without the checker.
  - Every error names the backend or the variable and the bad value.
"""

EXAMPLES = r"""
_ipvs_lb_rules: "{{ ipvs_lb_backends | ipvs_lb_rules('192.168.100.1', 80, 'wrr', 'masquerade') }}"
# ['-A -t 192.168.100.1:80 -s wrr', '-a -t 192.168.100.1:80 -r 192.168.56.2:80 -m -w 2', ...]
_both: "{{ ipvs_lb_backends | ipvs_lb_rules('192.168.100.1', 80, 'wrr', 'masquerade', https_port=443) }}"
# [..., '-A -t 192.168.100.1:443 -s wrr', '-a -t 192.168.100.1:443 -r 192.168.56.2:443 -m -w 2', ...]
_keepalived: "{{ ipvs_lb_backends | ipvs_lb_keepalived('192.168.100.1', 80, 'wrr', check={'path': '/'}) }}"
# ['virtual_server 192.168.100.1 80 {', '    delay_loop 2', '    lb_algo wrr', '    lb_kind NAT', ...]
_argv: "{{ backend | ipvs_lb_state_argv('drain', '192.168.100.1', 80, 'masquerade') }}"
# ['ipvsadm', '-e', '-t', '192.168.100.1:80', '-r', '192.168.56.2:80', '-m', '-w', '0']
"""

RETURN = r"""
_value: {description: Lines of text, an argv, or seconds, as each filter says.}
"""

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "sh")
METHODS = {"masquerade": "-m", "route": "-g"}
STATES = ("ready", "drain", "maint")
# keepalived's names of the forwarding methods (lb_kind), and the HTTP check's settings.
LB_KINDS = {"masquerade": "NAT", "route": "DR"}
CHECK = {"path": "/", "status": 200, "interval": 2, "connect_timeout": 2, "retries": 1, "retry_delay": 1}
# each number of the check: its lowest and highest value
CHECK_RANGES = {
    "status": (100, 599),
    "interval": (1, None),
    "connect_timeout": (1, None),
    "retries": (0, None),
    "retry_delay": (0, None),
}


def _fail(host: str, var: str, value: Any, why: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"backend {host}: {var}={value!r} {why}")


def _number(var: str, value: Any, low: int, high: int | None = None) -> int:
    """value as an int within [low, high] (digit strings of an INI inventory too), else an error naming var."""
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"-?\d+", text):
        raise AnsibleFilterError(f"{var}={value!r} is not an integer")
    number = int(text)
    if number < low or (high is not None and number > high):
        bounds = f"{low}-{high}" if high is not None else f"{low} or more"
        raise AnsibleFilterError(f"{var}={value!r} is out of range: use {bounds}")
    return number


def _real_servers(
    backends: list[Mapping[str, Any]], port: int, scheduler: str, method: str, key: str = "port"
) -> list[tuple]:
    """(address, port, weight) of each real server in the table: maint left out, drain weight 0.

    `key` is the backend's port the service forwards to: "port" (HTTP), "https_port" (HTTPS passed through).
    """
    if scheduler not in SCHEDULERS:
        raise AnsibleFilterError(f"IPVS scheduler {scheduler!r} is unknown: use one of {', '.join(SCHEDULERS)}")
    if method not in METHODS:
        raise AnsibleFilterError(f"IPVS method {method!r} is unknown: use one of {', '.join(METHODS)}")
    if not isinstance(backends, list) or not backends:
        raise AnsibleFilterError(f"expected the non-empty list from farm_backends, got {backends!r}")
    servers = []
    for b in backends:
        if b["backup"]:
            raise _fail(b["name"], "backend_backup", True, "has no equivalent in IPVS: remove the backend or unset it")
        if method == "route" and b[key] != port:
            raise _fail(b["name"], f"backend_{key}", b[key], f"must be the virtual port {port} with direct routing")
        if b.get("state") == "maint":  # out of the table; drain is weight 0: no new connections
            continue
        servers.append((b["address"], b[key], 0 if b.get("state") == "drain" else b["weight"]))
    return servers


def _services(backends: list[Mapping[str, Any]], port: int, https_port: int | None) -> list[tuple[int, str, str]]:
    """(virtual port, the backends' port key, keepalived's check) of each virtual service: HTTP, and
    HTTPS passed through to the backends' own TLS when https_port is set."""
    if not https_port:
        return [(port, "port", "HTTP_GET")]
    port, https_port = _number("ipvs_lb_port", port, 1, 65535), _number("ipvs_lb_https_port", https_port, 1, 65535)
    if https_port == port:
        raise AnsibleFilterError(f"ipvs_lb_https_port={https_port!r} is ipvs_lb_port's too: give HTTPS its own port")
    seen: dict[tuple[str, int], str] = {}  # an Apache cannot serve HTTP and HTTPS, or two backends, on one port
    for b in backends:
        for key in ("port", "https_port"):
            endpoint = (b["address"], b[key])
            if endpoint in seen and seen[endpoint] != f"{b['name']} backend_{key}":
                raise _fail(
                    b["name"], f"backend_{key}", b[key],
                    f"is already where {seen[endpoint]} answers on {b['address']}: with IPVS passing HTTPS through, "
                    "each backend serves HTTP and HTTPS on ports of their own (backend_port, backend_https_port)",
                )  # fmt: skip
            seen[endpoint] = f"{b['name']} backend_{key}"
    return [(port, "port", "HTTP_GET"), (https_port, "https_port", "SSL_GET")]


def ipvs_lb_rules(
    backends: list[Mapping[str, Any]],
    vip: str,
    port: int = 80,
    scheduler: str = "rr",
    method: str = "masquerade",
    https_port: int | None = None,
) -> list[str]:
    """Each virtual service and its real servers, as ipvsadm-restore lines (and as ipvsadm -Sn prints them)."""
    lines = []
    for service_port, key, _ in _services(backends, port, https_port):
        service = f"{vip}:{service_port}"
        lines += [f"-A -t {service} -s {scheduler}"] + [
            f"-a -t {service} -r {address}:{rs_port} {METHODS[method]} -w {weight}"
            for address, rs_port, weight in _real_servers(backends, service_port, scheduler, method, key)
        ]
    return lines


def _check(check: Mapping[str, Any] | None) -> tuple[str, dict[str, int]]:
    """The HTTP check's path and numbers, each checked, errors naming ipvs_lb_check_<key>."""
    check = {**CHECK, **(check or {})}
    path = str(check["path"])
    if not path.startswith("/") or re.search(r"[\s\"{}!#]", path):
        raise AnsibleFilterError(f"ipvs_lb_check_path={path!r} must be a URL path starting with / without spaces")
    numbers = {key: _number(f"ipvs_lb_check_{key}", check[key], *bounds) for key, bounds in CHECK_RANGES.items()}
    return path, numbers


def ipvs_lb_keepalived(
    backends: list[Mapping[str, Any]],
    vip: str,
    port: int = 80,
    scheduler: str = "rr",
    method: str = "masquerade",
    check: Mapping[str, Any] | None = None,
    https_port: int | None = None,
) -> list[str]:
    """The same virtual services as keepalived's virtual_server blocks, a check per real server.

    keepalived's checker (keepalived -C) then owns the table: a real server whose check fails
    leaves it, and comes back with its weight once the check passes again. HTTP is checked with
    HTTP_GET; HTTPS passed through, on the backend's own TLS, with SSL_GET (the same GET over TLS).
    """
    path, numbers = _check(check)
    lines: list[str] = []
    for service_port, key, checker in _services(backends, port, https_port):
        lines += [
            f"virtual_server {vip} {service_port} {{",
            f"    delay_loop {numbers['interval']}",
            f"    lb_algo {scheduler}",
            f"    lb_kind {LB_KINDS[method]}",
            "    protocol TCP",
        ]
        for address, rs_port, weight in _real_servers(backends, service_port, scheduler, method, key):
            lines += [
                f"    real_server {address} {rs_port} {{",
                f"        weight {weight}",
                f"        {checker} {{",
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
        lines.append("}")
    return lines


def ipvs_lb_state_argv(
    backend: Mapping[str, Any],
    state: str,
    vip: str,
    port: int = 80,
    method: str = "masquerade",
    present: bool = True,
    key: str = "port",
) -> list[str]:
    """The ipvsadm command that puts one real server of the running table in `state`.

    drain keeps it with weight 0 (its connections finish, no new ones), maint deletes it, ready
    gives it its weight back, adding it again when maint had deleted it (present=False). `port` is
    the virtual service's, `key` the backend's port it forwards to ("port", or "https_port").
    """
    if method not in METHODS:
        raise AnsibleFilterError(f"IPVS method {method!r} is unknown: use one of {', '.join(METHODS)}")
    if state not in STATES:
        raise _fail(str(backend.get("name")), "state", state, f"is not a backend state: use one of {', '.join(STATES)}")
    target = ["-t", f"{vip}:{port}", "-r", f"{backend['address']}:{backend[key]}"]
    if state == "maint":
        return ["ipvsadm", "-d", *target]
    weight = 0 if state == "drain" else backend["weight"]
    return ["ipvsadm", "-e" if present else "-a", *target, METHODS[method], "-w", str(weight)]


def ipvs_lb_health_window(settings: Mapping[str, Any], host: str = "the balancer host") -> float:
    """Seconds keepalived's checker takes to judge a real server: 0 without it."""
    if settings.get("checker") != "keepalived":
        return 0.0
    try:
        interval = _number("ipvs_lb_check_interval", settings["check_interval"], 1)
        connect = _number("ipvs_lb_check_connect_timeout", settings["check_connect_timeout"], 1)
        retries = _number("ipvs_lb_check_retries", settings["check_retries"], 0)
        delay = _number("ipvs_lb_check_retry_delay", settings["check_retry_delay"], 0)
    except AnsibleFilterError as error:
        raise AnsibleFilterError(f"{host}: {error}") from None
    return float(interval + (retries + 1) * connect + retries * delay)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "ipvs_lb_rules": ipvs_lb_rules,
            "ipvs_lb_keepalived": ipvs_lb_keepalived,
            "ipvs_lb_state_argv": ipvs_lb_state_argv,
            "ipvs_lb_health_window": ipvs_lb_health_window,
        }
