"""HAProxy's own filters for roles/haproxy_lb: its server lines, its weight changes, its health window."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: haproxy_lb
short_description: HAProxy's server lines, weight changes and health window
description:
  - C(haproxy_lb_servers) renders the validated backend list of the filter C(farm_backends) as the
    arguments of C(server) lines; a drained backend gets weight 0 (what HAProxy's runtime
    C(state drain) does), one in maintenance C(disabled).
  - C(haproxy_lb_health_window) gives the seconds HAProxy's checks take to call a server down or
    up again, C(inter) x max(C(fall), C(rise)); 0 without checks. The balancer role's health gate
    waits that long before it believes that a new configuration serves.
  - C(haproxy_lb_weight_changes), below.
  - Compares the live haproxy.cfg with the new one line by line. When they differ only in the
    C(weight N) of C(server) lines, the change can be made through the runtime API
    (C(set weight backend/server N)) with no reload; the result maps each such server to its new
    weight. Anything else that differs (a weight to or from 0, which is how a drain is written,
    a line added or removed) needs a reload - the result is then None.
options:
  _input: {description: The live haproxy.cfg (empty when there is none), type: str, required: true}
  new: {description: The new haproxy.cfg, type: str, required: true}
"""

EXAMPLES = r"""
_haproxy_lb_servers: "{{ haproxy_lb_backends | haproxy_lb_servers(cookie=true, check=true) }}"
# ['m1 192.168.56.2:80 maxconn 32 weight 2 cookie m1 check', ...]
_window: "{{ [settings] | map('haproxy_lb_health_window', inventory_hostname) | first }}"
# 6.0 (inter 2s, fall 3, rise 2)
_haproxy_lb_weights: "{{ _live | haproxy_lb_weight_changes(lookup('ansible.builtin.template', 'haproxy.cfg.j2')) }}"
"""

RETURN = r"""
_value:
  description: "{server: new weight} (empty when nothing differs), or None when a reload is needed."
  type: dict
"""

MAX_WEIGHT = 256
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
_TIME = re.compile(r"^\s*(\d+)\s*(us|ms|s|m|h|d)?\s*$")
_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SERVER = re.compile(r"^(\s*server\s+(\S+)\s.*?\bweight\s+)(\d+)(\b.*)$")


def haproxy_lb_weight_changes(live: Any, new: Any) -> dict[str, int] | None:
    if not isinstance(live, str) or not isinstance(new, str):
        kinds = f"{type(live).__name__} and {type(new).__name__}"
        raise AnsibleFilterError(f"haproxy_lb_weight_changes expects two haproxy.cfg texts, got {kinds}")
    old_lines, new_lines = live.splitlines(), new.splitlines()
    if not live or len(old_lines) != len(new_lines):
        return None
    changes: dict[str, int] = {}
    for old_line, new_line in zip(old_lines, new_lines, strict=True):
        if old_line == new_line:
            continue
        old_match, new_match = _SERVER.match(old_line), _SERVER.match(new_line)
        if not old_match or not new_match:
            return None
        same_rest = (old_match.group(1), old_match.group(4)) == (new_match.group(1), new_match.group(4))
        old_weight, new_weight = int(old_match.group(3)), int(new_match.group(3))
        if not same_rest or 0 in (old_weight, new_weight):
            return None
        changes[new_match.group(2)] = new_weight
    return changes


def _fail(host: str, var: str, value: Any, why: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"backend {host}: {var}={value!r} {why}")


def haproxy_lb_servers(backends: list[Mapping[str, Any]], cookie: bool = True, check: bool = True) -> list[str]:
    """Render each backend as the arguments of an HAProxy `server` line."""
    if not isinstance(backends, list) or not backends:
        raise AnsibleFilterError(f"expected the non-empty list from farm_backends, got {backends!r}")
    return [_server(b, cookie, check) for b in backends]


def _server(b: Mapping[str, Any], cookie: bool, check: bool) -> str:
    if not _NAME.match(b["name"]):
        raise _fail(b["name"], "inventory_hostname", b["name"], "is not a valid HAProxy server name")
    if not 0 <= b["weight"] <= MAX_WEIGHT:
        raise _fail(b["name"], "backend_weight", b["weight"], f"is out of range for HAProxy: use 0-{MAX_WEIGHT}")
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
    return " ".join(parts)


def _seconds(host: str, var: str, value: Any) -> float:
    """An HAProxy time (a number, in milliseconds unless a unit follows: 2s, 500ms)."""
    match = _TIME.match(str(value))
    if not match:
        raise AnsibleFilterError(f"{host}: {var}={value!r} must be an HAProxy time such as 2s or 500ms")
    return int(match.group(1)) * _TIME_UNITS[match.group(2) or "ms"]


def _count(host: str, var: str, value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.lstrip("-").isdigit():
        raise AnsibleFilterError(f"{host}: {var}={value!r} is not an integer")
    if int(text) < 1:
        raise AnsibleFilterError(f"{host}: {var}={value!r} is out of range: use 1 or more")
    return int(text)


def _is_on(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "yes", "on") if isinstance(value, str) else bool(value)


def haproxy_lb_health_window(settings: Mapping[str, Any], host: str = "the balancer host") -> float:
    """Seconds HAProxy's checks take to call a server down, or up again, at most: inter x max(fall, rise)."""
    if not _is_on(settings.get("check")) or not settings.get("check_path"):
        return 0.0
    inter = _seconds(host, "haproxy_lb_check_inter", settings["check_inter"])
    fall = _count(host, "haproxy_lb_check_fall", settings["check_fall"])
    rise = _count(host, "haproxy_lb_check_rise", settings["check_rise"])
    return inter * max(fall, rise)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "haproxy_lb_servers": haproxy_lb_servers,
            "haproxy_lb_weight_changes": haproxy_lb_weight_changes,
            "haproxy_lb_health_window": haproxy_lb_health_window,
        }
