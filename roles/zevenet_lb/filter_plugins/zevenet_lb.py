"""Zevenet's own filters for roles/zevenet_lb (role-local: they load with the role).

The validated backend list rendered as ZAPI v4.0 backend objects, and the farm's VIP checked.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

DOCUMENTATION = r"""
  name: zevenet_lb_zapi_backends
  short_description: Render the farm's backend list as Zevenet ZAPI v4.0 backend objects
  description:
    - C(zevenet_lb_zapi_backends) turns the list from C(farm_backends) into the bodies of
      C(POST /farms/F/services/S/backends) (profile http) or C(POST /farms/F/backends) (profile
      l4xnat), each with the inventory name of its host under C(name) for messages and its
      recorded state (ready, drain, maint) under C(state), which the module applies with
      ZAPI's maintenance action.
    - Zevenet takes weights and priorities 1-9 only. With C(weight_policy=refuse) a weight out of
      that range stops the play; with C(weight_policy=scale) weights above 9 are scaled down to
      1-9 keeping their ratio as well as integers allow, with a warning. A weight of 0 is refused
      either way (take a backend out with its backend state, or out of the backends group).
    - C(zevenet_lb_zapi_vip) returns the VIP when it is an IP address, else stops the play saying so.
    - A backup becomes priority 2 (the others keep Zevenet's default, 1), as for gobetween.
    - Every error names the host, the variable and the bad value.
"""

EXAMPLES = r"""
_zevenet_lb_backends: "{{ zevenet_lb_backends | zevenet_lb_zapi_backends('http') }}"
# [{'name': 'm1', 'ip': '192.168.56.2', 'port': 80, 'weight': 3, 'state': 'ready'},
#  {'name': 'm2', 'ip': '192.168.56.3', 'port': 80, 'weight': 1, 'state': 'drain'}]
"""

PROFILES = ("http", "l4xnat")
WEIGHT_POLICIES = ("refuse", "scale")
ZEVENET_MAX = 9  # weights and priorities: interval "1,9" in every backend schema of ZAPI v4.0
# The per-backend connection cap: its name in each profile's backend schema.
MAX_CONNS_KEY = {"http": "connection_limit", "l4xnat": "max_conns"}

_display = Display()


def _fail(host: str, var: str, value: Any, why: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"backend {host}: {var}={value!r} {why}")


def _check_choices(profile: str, weight_policy: str) -> None:
    if profile not in PROFILES:
        raise AnsibleFilterError(f"zevenet_lb_profile={profile!r} is unknown: use one of {', '.join(PROFILES)}")
    if weight_policy not in WEIGHT_POLICIES:
        raise AnsibleFilterError(
            f"zevenet_lb_weight_policy={weight_policy!r} is unknown: use one of {', '.join(WEIGHT_POLICIES)}"
        )


def _check_weight(b: Mapping[str, Any], weight_policy: str) -> None:
    """0 is refused either way, above 9 unless the policy scales it."""
    if b["weight"] < 1:
        raise _fail(
            b["name"],
            "backend_weight",
            b["weight"],
            "is out of range for Zevenet: use 1-9 (to take the backend out, set its state to drain "
            "or maint, or remove it from the backends group)",
        )
    if b["weight"] > ZEVENET_MAX and weight_policy == "refuse":
        raise _fail(
            b["name"],
            "backend_weight",
            b["weight"],
            "is out of range for Zevenet: use 1-9, or set zevenet_lb_weight_policy: scale to scale "
            "every weight into 1-9",
        )


def _scaled_weights(backends: list[Mapping[str, Any]]) -> dict[str, int]:
    """Weights above 9 brought into 1-9 with the ratio kept as far as integers allow."""
    top = max(b["weight"] for b in backends)
    if top <= ZEVENET_MAX:
        return {b["name"]: b["weight"] for b in backends}
    return {b["name"]: max(1, round(b["weight"] * ZEVENET_MAX / top)) for b in backends}


def _weights(backends: list[Mapping[str, Any]], weight_policy: str) -> dict[str, int]:
    """Each backend's weight as Zevenet takes it (checked, scaled with a warning if need be)."""
    for b in backends:
        _check_weight(b, weight_policy)
    weights = _scaled_weights(backends)
    if weights != {b["name"]: b["weight"] for b in backends}:
        _display.warning(
            "Zevenet takes weights 1-9 only; scaled them (zevenet_lb_weight_policy: scale): "
            + ", ".join(f"{b['name']} {b['weight']} -> {weights[b['name']]}" for b in backends)
        )
    return weights


def _ip(b: Mapping[str, Any]) -> str:
    try:
        ipaddress.ip_address(b["address"])
    except ValueError:
        raise _fail(
            b["name"],
            "backend_address",
            b["address"],
            "is not an IP address: Zevenet's backends take IP addresses only; set backend_address "
            "(or lab_address) of the host to its IP",
        ) from None
    return b["address"]


def _priority(b: Mapping[str, Any]) -> int | None:
    """The backend's priority (2 for a backup without one), or None for Zevenet's default."""
    priority = b.get("priority")
    if priority is None and b.get("backup"):
        priority = 2
    if priority is not None and not 1 <= priority <= ZEVENET_MAX:
        raise _fail(b["name"], "backend_priority", priority, "is out of range for Zevenet: use 1-9")
    return priority


def _zapi_backend(b: Mapping[str, Any], weight: int, profile: str) -> dict[str, Any]:
    """One backend's ZAPI body, with its host's name and its recorded state."""
    item: dict[str, Any] = {"name": b["name"], "ip": _ip(b), "port": b["port"], "weight": weight}
    item["state"] = b.get("state", "ready")  # not a ZAPI field: the module's maintenance calls
    priority = _priority(b)
    if priority is not None:
        item["priority"] = priority
    if b.get("max_conns"):
        item[MAX_CONNS_KEY[profile]] = b["max_conns"]
    return item


def zevenet_lb_zapi_backends(
    backends: list[Mapping[str, Any]], profile: str = "http", weight_policy: str = "refuse"
) -> list[dict[str, Any]]:
    """Each backend as the body of a ZAPI v4.0 backend, with its host's name under `name`."""
    _check_choices(profile, weight_policy)
    if not isinstance(backends, list) or not backends:
        raise AnsibleFilterError(f"expected the non-empty list from farm_backends, got {backends!r}")
    weights = _weights(backends, weight_policy)
    return [_zapi_backend(b, weights[b["name"]], profile) for b in backends]


def zevenet_lb_zapi_vip(vip: Any) -> str:
    """The farm's VIP, checked: Zevenet's farms listen on an IP address of the appliance."""
    try:
        return str(ipaddress.ip_address(str(vip).strip()))
    except ValueError:
        raise AnsibleFilterError(
            f"zevenet_lb_vip={vip!r} is not an IP address: set it to an address of one of the appliance's "
            "interfaces (Network > NIC on the appliance)"
        ) from None


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"zevenet_lb_zapi_backends": zevenet_lb_zapi_backends, "zevenet_lb_zapi_vip": zevenet_lb_zapi_vip}
