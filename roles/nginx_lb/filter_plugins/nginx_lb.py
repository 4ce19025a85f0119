"""nginx's own filter for roles/nginx_lb: the farm's backends as upstream server lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: nginx_lb_servers
short_description: The farm's backends as the arguments of nginx upstream server lines
description:
  - Renders the validated backend list of the filter C(farm_backends) for the C(upstream) block.
  - A backend that is not ready gets C(down): open-source nginx has no drain, and the requests in
    flight finish in the old workers of the graceful reload.
  - Refuses a weight below 1 and a backup with a method that nginx forbids it with, naming the
    backend, the variable and the value.
options:
  _input: {description: The list from farm_backends, type: list, required: true}
  method: {description: "round_robin, least_conn, ip_hash or hash", type: str, default: round_robin}
"""

EXAMPLES = r"""
_nginx_lb_servers: "{{ nginx_lb_backends | nginx_lb_servers(nginx_lb_method) }}"
# ['192.168.56.2 weight=2 max_fails=1', '192.168.56.3 weight=1 max_fails=1']
"""

RETURN = r"""
_value: {description: One server line's arguments per backend, type: list, elements: str}
"""

METHODS = ("round_robin", "least_conn", "ip_hash", "hash")
# nginx rejects "backup" in an upstream that uses one of these.
NO_BACKUP = ("ip_hash", "hash")


def _fail(host: str, var: str, value: Any, why: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"backend {host}: {var}={value!r} {why}")


def nginx_lb_servers(backends: list[Mapping[str, Any]], method: str = "round_robin") -> list[str]:
    """Render each backend as the arguments of an nginx upstream `server` line."""
    if method not in METHODS:
        raise AnsibleFilterError(f"nginx method {method!r} is unknown: use one of {', '.join(METHODS)}")
    if not isinstance(backends, list) or not backends:
        raise AnsibleFilterError(f"expected the non-empty list from farm_backends, got {backends!r}")
    return [_server(b, method) for b in backends]


def _server(b: Mapping[str, Any], method: str) -> str:
    if b["weight"] < 1:
        raise _fail(b["name"], "backend_weight", b["weight"], "is out of range for nginx: use 1 or more")
    if b["backup"] and method in NO_BACKUP:
        raise _fail(b["name"], "backend_backup", True, f"cannot be used with nginx method {method}")
    target = b["address"] if b["port"] == 80 else f"{b['address']}:{b['port']}"
    parts = [target, f"weight={b['weight']}", f"max_fails={b['max_fails']}"]
    if b["fail_timeout"] is not None:
        parts.append(f"fail_timeout={b['fail_timeout']}s")
    if b["max_conns"]:
        parts.append(f"max_conns={b['max_conns']}")
    if b["backup"]:
        parts.append("backup")
    if b.get("state", "ready") != "ready":
        parts.append("down")
    return " ".join(parts)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"nginx_lb_servers": nginx_lb_servers}
