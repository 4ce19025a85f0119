#!/usr/bin/python
"""A farm on a Zevenet appliance, made to match the inventory through ZAPI v4.0.

The planning is pure (answers of GET in, list of write requests out) so that unit tests can check
every request against JSON shaped like Zevenet's; the HTTP layer is the thin class Zapi.
"""

from __future__ import annotations

import json
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

DOCUMENTATION = r"""
module: zevenet_farm
short_description: Keep a Zevenet farm as the inventory describes it, through ZAPI v4.0
description:
  - Reads the farm with GET, compares, then sends only the POST, PUT and DELETE requests that
    make it match; a second run sends none. Touches nothing but the farm O(farm) (its service
    O(service) for the http profile).
  - Backends are matched by IP and port; a backend on the appliance that is not in O(backends)
    is deleted.
  - A request Zevenet refuses stops the module with Zevenet's own message.
  - In check mode only GET requests are sent; C(requests) lists the writes that would be sent.
options:
  api:
    type: dict
    required: true
    description: How to reach the ZAPI (roles/zevenet_lb/vars/main.yml _zevenet_lb_api, the same for every task).
    suboptions:
      url: {type: str, required: true, description: ZAPI base URL, e.g. https://APPLIANCE:444/zapi/v4.0/zapi.cgi.}
      key: {type: str, required: true, no_log: true, description: ZAPI key of the appliance's zapi user.}
      validate_certs: {type: bool, default: false, description: Check the appliance's TLS certificate.}
      timeout: {type: int, default: 30, description: Seconds to wait for each ZAPI answer.}
  farm: {type: str, required: true, description: Farm name (letters, digits, hyphens).}
  profile: {type: str, default: http, choices: [http, l4xnat], description: Farm profile.}
  vip: {type: str, description: Virtual IP; an address of one of the appliance's interfaces.}
  port: {type: int, description: Virtual port.}
  service: {type: str, default: lbfarm, description: The http farm's service holding the backends.}
  algorithm:
    type: str
    default: ""
    description: http, the service's routingpolicy; l4xnat, the farm's algorithm; empty keeps Zevenet's.
  farmguardian: {type: str, default: "", description: Farmguardian check attached to the farm; empty for none.}
  backends: {type: list, elements: dict, default: [], description: Backends from the zevenet_lb_zapi_backends filter.}
  state:
    type: str
    default: present
    choices: [present, absent, started, stopped, backend]
    description: C(backend) sets one backend's maintenance state (O(backend), O(backend_state)).
  backend:
    type: dict
    description: The backend whose state to set.
    suboptions:
      ip: {type: str, required: true, description: Its IP address.}
      port: {type: int, required: true, description: Its port.}
  backend_state:
    type: str
    choices: [ready, drain, maint]
    description: "ready: up; drain or maint: maintenance, mode drain or cut."
"""

EXAMPLES = r"""
- name: Make the farm match the inventory
  zevenet_farm:
    api:
      url: https://192.168.56.5:444/zapi/v4.0/zapi.cgi
      key: "{{ zevenet_lb_key }}"
    farm: lbfarm
    vip: 192.168.56.5
    port: 80
    backends: [{name: m1, ip: 192.168.56.2, port: 80, weight: 3}]
  delegate_to: localhost
"""

RETURN = r"""
lines:
  description: "The same requests, one line each: METHOD path {body}."
  type: list
  returned: always
requests:
  description: "The write requests sent (in check mode: that would be sent): method, path, body."
  type: list
  returned: always
status:
  description: "The farm's status after the run (up, down, needed restart...), or absent."
  type: str
  returned: always
"""

# GET /farms/F params.listener: what each profile of POST /farms reads back as.
LISTENERS = {"http": ("http", "https"), "l4xnat": ("l4xnat",)}
# Backend fields lbfarm sets (the rest, e.g. timeout, stay as they are on the appliance).
BACKEND_FIELDS = ("ip", "port", "weight", "priority", "max_conns", "connection_limit")
# What a field lbfarm leaves unset goes back to (priority 1 is Zevenet's default, 0 no cap).
RESET = {"priority": 1, "max_conns": 0, "connection_limit": 0}
MAINTENANCE = {"drain": {"action": "maintenance", "mode": "drain"}, "maint": {"action": "maintenance", "mode": "cut"}}
STATES = ("present", "absent", "started", "stopped", "backend")
BACKEND_OPTIONS = {"ip": {"type": "str", "required": True}, "port": {"type": "int", "required": True}}
API_OPTIONS = {
    "url": {"type": "str", "required": True},
    "key": {"type": "str", "required": True, "no_log": True},
    "validate_certs": {"type": "bool", "default": False},
    "timeout": {"type": "int", "default": 30},
}


class ZapiError(Exception):
    """A ZAPI request that was refused, or no answer at all; str() is the message for the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.sent: list[dict] = []  # the writes that went through before this one


class PlanError(Exception):
    """The appliance holds something lbfarm must not change by itself."""


def request(method: str, path: str, body: dict | None = None) -> dict[str, Any]:
    return {"method": method, "path": path, "body": body}


def describe(requests: list[dict]) -> list[str]:
    """One line per request, as a person reads it: METHOD path {body}."""
    return [
        f"{r['method']} {r['path']}" + ("" if r["body"] is None else " " + json.dumps(r["body"], sort_keys=True))
        for r in requests
    ]


def zevenet_message(body: Any) -> str:
    """Zevenet's own words from an error answer ({description, error, message})."""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("description") or json.dumps(body))
    return str(body or "(no message)")


class Zapi:
    """The HTTP layer: one JSON request to the appliance, answered with (status, parsed body)."""

    def __init__(self, url: str, key: str, validate_certs: bool = False, timeout: int = 30) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.validate_certs = validate_certs
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        from urllib.error import HTTPError, URLError

        data = None if body is None else json.dumps(body)
        try:
            response = open_url(
                self.url + path,
                method=method,
                data=data,
                headers={"ZAPI_KEY": self.key, "Content-Type": "application/json"},
                validate_certs=self.validate_certs,
                timeout=self.timeout,
            )
            status, text = response.getcode(), response.read()
        except HTTPError as err:
            status, text = err.code, err.read()
        except (URLError, OSError) as err:
            raise ZapiError(
                f"no answer from the ZAPI at {self.url} ({err}): check that the appliance is up and "
                "that zevenet_lb_url is right"
            ) from None
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text.decode(errors="replace") if isinstance(text, bytes) else text


def send(api: Any, method: str, path: str, body: dict | None = None, ok: tuple[int, ...] = ()) -> tuple[int, Any]:
    """One request; an answer outside 2xx (and `ok`) raises ZapiError with Zevenet's message."""
    status, answer = api.call(method, path, body)
    if 200 <= status < 300 or status in ok:
        return status, answer
    if status == 401:
        raise ZapiError(
            f"the ZAPI refused the key ({zevenet_message(answer)}): enable the zapi user on the appliance "
            "(System > Users), then set zevenet_lb_key to its key",
            status,
        )
    (shown,) = describe([request(method, path, body)])
    raise ZapiError(f"Zevenet refused {shown} (HTTP {status}): {zevenet_message(answer)}", status)


# ---- reading GET /farms/F -------------------------------------------------------------------


def farm_profile(current: dict) -> str:
    listener = (current.get("params") or {}).get("listener")
    for profile, listeners in LISTENERS.items():
        if listener in listeners:
            return profile
    return str(listener)


def find_service(current: dict, service: str) -> dict | None:
    return next((s for s in current.get("services") or [] if s.get("id") == service), None)


def backend_list(current: dict | None, profile: str, service: str) -> list[dict]:
    """The backends of the farm (http: of its service), as GET /farms/F lists them."""
    if current is None:
        return []
    if profile == "http":
        found = find_service(current, service)
        return list(found.get("backends") or []) if found else []
    return list(current.get("backends") or [])


def _port(value: Any) -> int | None:
    """Ports read back as numbers (http) or strings, "" when an l4xnat backend has none."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def backends_path(farm: str, profile: str, service: str) -> str:
    if profile == "http":
        return f"/farms/{farm}/services/{service}/backends"
    return f"/farms/{farm}/backends"


def fg_path(farm: str, profile: str, service: str) -> str:
    return f"/farms/{farm}/services/{service}/fg" if profile == "http" else f"/farms/{farm}/fg"


# ---- planning: GET answers in, write requests out -------------------------------------------


def plan_configure(desired: dict, current: dict | None) -> list[dict]:
    """The writes that make the farm `current` (GET /farms/F body, None when 404) into `desired`.

    desired: farmname, profile, vip, vport, service, algorithm, farmguardian, backends (the
    filter's objects). Order: the farm and its service, then backend changes (PUT by the ids
    read, DELETE from the highest id down so that no id read is shifted by an earlier delete,
    POST last), then the health check.
    """
    farm, profile, service = desired["farmname"], desired["profile"], desired["service"]
    path = f"/farms/{farm}"
    plan: list[dict] = []
    if current is None:
        create = {"farmname": farm, "profile": profile, "vip": desired["vip"], "vport": desired["vport"]}
        plan.append(request("POST", "/farms", create))
        params: dict = {"vip": desired["vip"], "vport": desired["vport"]}
    else:
        found = farm_profile(current)
        if found != profile:
            raise PlanError(
                f"the farm {farm} on the appliance is a {found} farm, not {profile}: set zevenet_lb_profile: {found}, "
                f"choose another zevenet_lb_farm, or delete {farm} on the appliance (LSLB > Farms) first"
            )
        params = current.get("params") or {}

    farm_changes: dict[str, Any] = {}
    if str(params.get("vip")) != str(desired["vip"]):
        farm_changes["vip"] = desired["vip"]
    if _port(params.get("vport")) != desired["vport"]:
        farm_changes["vport"] = desired["vport"]
    if profile == "l4xnat" and desired["algorithm"] and params.get("algorithm") != desired["algorithm"]:
        farm_changes["algorithm"] = desired["algorithm"]
    if farm_changes:
        plan.append(request("PUT", path, farm_changes))

    current_fg = None
    if profile == "http":
        found_service = find_service(current, service) if current else None
        if found_service is None:
            plan.append(request("POST", f"{path}/services", {"id": service}))
        else:
            current_fg = found_service.get("farmguardian") or None
        if desired["algorithm"]:
            if found_service is not None and "routingpolicy" not in found_service:
                raise PlanError(
                    f"the service {service} of farm {farm} has no routingpolicy: this appliance's HTTP proxy "
                    "does not take one (proxy_ng off); leave zevenet_lb_algorithm empty"
                )
            if found_service is None or found_service.get("routingpolicy") != desired["algorithm"]:
                plan.append(request("PUT", f"{path}/services/{service}", {"routingpolicy": desired["algorithm"]}))
    elif current:
        current_fg = params.get("farmguardian") or None

    plan.extend(plan_backends(desired, backend_list(current, profile, service)))

    wanted_fg = desired["farmguardian"] or None
    if current_fg != wanted_fg:
        fg = fg_path(farm, profile, service)
        if current_fg:
            plan.append(request("DELETE", f"{fg}/{current_fg}"))
        if wanted_fg:
            plan.append(request("POST", fg, {"name": wanted_fg}))
    return plan


def plan_backends(desired: dict, current: list[dict]) -> list[dict]:
    """PUT what differs on the backends matched by (ip, port), DELETE the others, POST the new ones."""
    base = backends_path(desired["farmname"], desired["profile"], desired["service"])
    by_address: dict[tuple[str, int | None], dict] = {}
    extra: list[dict] = []
    for backend in current:
        key = (str(backend.get("ip")), _port(backend.get("port")))
        if key in by_address:
            extra.append(backend)  # a duplicate made by hand: one of them is enough
        else:
            by_address[key] = backend
    puts, posts = [], []
    for wanted in desired["backends"]:
        body = {k: wanted[k] for k in BACKEND_FIELDS if k in wanted}
        found = by_address.pop((wanted["ip"], wanted["port"]), None)
        if found is None:
            posts.append(request("POST", base, body))
            continue
        changes = {k: v for k, v in body.items() if found.get(k) != v}
        if _port(found.get("port")) == wanted["port"]:
            changes.pop("port", None)  # read back as a string
        # A backend that was a backup, or had a cap, goes back to Zevenet's defaults.
        for key, default in RESET.items():
            if key not in body and found.get(key) not in (None, default):
                changes[key] = default
        if changes:
            puts.append(request("PUT", f"{base}/{found['id']}", changes))
    gone = sorted([*by_address.values(), *extra], key=lambda b: int(b["id"]), reverse=True)
    deletes = [request("DELETE", f"{base}/{b['id']}") for b in gone]
    return puts + deletes + posts


def plan_action(farm: str, state: str, status: str | None) -> list[dict]:
    """started: start a stopped farm, restart one with changes pending; stopped: stop a running one."""
    path = f"/farms/{farm}/actions"
    if state == "started":
        if status is None:
            raise PlanError(f"the farm {farm} does not exist on the appliance: configure it first (state=present)")
        if status == "down":
            return [request("PUT", path, {"action": "start"})]
        if status == "needed restart":
            return [request("PUT", path, {"action": "restart"})]
        return []
    if status is None or status == "down":
        return []
    return [request("PUT", path, {"action": "stop"})]


def _find_backend(backends: list[dict], ip: str, port: int) -> dict | None:
    return next((b for b in backends if str(b.get("ip")) == ip and _port(b.get("port")) == int(port)), None)


def _state_request(base: str, found: dict, state: str) -> list[dict]:
    """The maintenance call that puts the backend `found` (as GET reads it) in `state`, if any.

    ZAPI reads a backend in maintenance back as "maintenance" without its mode: one already in
    maintenance is left as it is (go through ready to change drain into cut).
    """
    in_maintenance = found.get("status") == "maintenance"
    path = f"{base}/{found['id']}/maintenance"
    if state == "ready":
        return [request("PUT", path, {"action": "up"})] if in_maintenance else []
    return [] if in_maintenance else [request("PUT", path, MAINTENANCE[state])]


def plan_backend_state(desired: dict, current: dict | None, address: dict, state: str) -> list[dict]:
    """ready: out of maintenance; drain and maint: into maintenance (mode drain, mode cut)."""
    farm, profile, service = desired["farmname"], desired["profile"], desired["service"]
    where = f"{address['ip']}:{address['port']}"
    if current is None:
        raise PlanError(f"the farm {farm} does not exist on the appliance: configure it before setting {where} {state}")
    found = _find_backend(backend_list(current, profile, service), address["ip"], address["port"])
    if found is None:
        raise PlanError(f"no backend {where} in farm {farm}: is it still in the backends group? configure the farm")
    return _state_request(backends_path(farm, profile, service), found, state)


def plan_states(desired: dict, current: dict | None, planned: bool = False) -> list[dict]:
    """The maintenance calls that give every backend its recorded state (the backends' `state`).

    Run on the farm as GET reads it after configure's writes, so that a farm created again, or a
    backend added, comes back in the state recorded for it (playbooks/backend.yml). planned: the
    writes were only planned (check mode), so a backend not on the appliance yet is one they would
    add: its call is listed with the address in place of the id Zevenet would give it.
    """
    farm, profile, service = desired["farmname"], desired["profile"], desired["service"]
    base = backends_path(farm, profile, service)
    on_appliance = backend_list(current, profile, service)
    plan: list[dict] = []
    for wanted in desired["backends"]:
        state = wanted.get("state") or "ready"
        found = _find_backend(on_appliance, wanted["ip"], wanted["port"])
        if found is not None:
            plan += _state_request(base, found, state)
        elif state != "ready":
            if not planned:
                raise PlanError(f"the backend {wanted['ip']}:{wanted['port']} is not in farm {farm} after configure")
            plan.append(request("PUT", f"{base}/<new {wanted['ip']}:{wanted['port']}>/maintenance", MAINTENANCE[state]))
    return plan


# ---- running it ------------------------------------------------------------------------------


def read_farm(api: Any, farm: str) -> dict | None:
    status, body = send(api, "GET", f"/farms/{farm}", ok=(404,))
    return None if status == 404 else body


def read_status(api: Any, farm: str) -> str | None:
    status, body = send(api, "GET", f"/farms/{farm}/status", ok=(404,))
    return None if status == 404 else ((body or {}).get("params") or {}).get("status")


def desired_farm(params: dict) -> dict:
    return {
        "farmname": params["farm"],
        "profile": params["profile"],
        "vip": params.get("vip"),
        "vport": params.get("port"),
        "service": params["service"],
        "algorithm": params.get("algorithm") or "",
        "farmguardian": params.get("farmguardian") or "",
        "backends": params.get("backends") or [],
    }


def send_all(api: Any, plan: list[dict], sent: list[dict]) -> None:
    """Send the requests in order, adding each to `sent`; a refusal carries what went through."""
    for req in plan:
        try:
            send(api, req["method"], req["path"], req["body"])
        except ZapiError as err:
            err.sent = sent
            raise
        sent.append(req)


def run(params: dict, check_mode: bool, api: Any) -> dict[str, Any]:
    """Plan from GET answers, then (outside check mode) send the plan; raises ZapiError or PlanError."""
    desired = desired_farm(params)
    farm, state = desired["farmname"], params["state"]
    current = read_farm(api, farm)
    if state == "present":
        if desired["farmguardian"]:
            status, _ = send(api, "GET", f"/monitoring/fg/{desired['farmguardian']}", ok=(404,))
            if status == 404:
                raise PlanError(
                    f"the farmguardian {desired['farmguardian']} does not exist on the appliance: set "
                    "zevenet_lb_farmguardian to one of its checks (Monitoring > Farm Guardian), e.g. check_http, "
                    "or to '' for none"
                )
        plan = plan_configure(desired, current)
        if check_mode:
            plan += plan_states(desired, current, planned=True)
    elif state == "absent":
        plan = [] if current is None else [request("DELETE", f"/farms/{farm}")]
    elif state == "backend":
        plan = plan_backend_state(desired, current, params["backend"], params["backend_state"])
    else:
        status = None if current is None else (current.get("params") or {}).get("status")
        plan = plan_action(farm, state, status)

    sent: list[dict] = []
    if check_mode:
        final = "absent" if current is None else (current.get("params") or {}).get("status")
        return {"changed": bool(plan), "requests": plan, "lines": describe(plan), "status": final}
    send_all(api, plan, sent)
    if state == "present":  # each backend in its recorded state, on the farm as it now is
        send_all(api, plan_states(desired, read_farm(api, farm) if sent else current), sent)
    final = read_status(api, farm)
    # A running farm may need a restart for its changes (HTTP without proxy_ng, new VIP or port):
    # the equivalent of the other balancers' reload, so configure does it.
    if plan and state == "present" and final == "needed restart":
        restart = request("PUT", f"/farms/{farm}/actions", {"action": "restart"})
        send(api, restart["method"], restart["path"], restart["body"])
        sent.append(restart)
        final = read_status(api, farm)
    return {"changed": bool(sent), "requests": sent, "lines": describe(sent), "status": final or "absent"}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "api": {"type": "dict", "required": True, "options": API_OPTIONS},
            "farm": {"type": "str", "required": True},
            "profile": {"type": "str", "default": "http", "choices": ["http", "l4xnat"]},
            "vip": {"type": "str"},
            "port": {"type": "int"},
            "service": {"type": "str", "default": "lbfarm"},
            "algorithm": {"type": "str", "default": ""},
            "farmguardian": {"type": "str", "default": ""},
            "backends": {"type": "list", "elements": "dict", "default": []},
            "state": {"type": "str", "default": "present", "choices": list(STATES)},
            "backend": {"type": "dict", "options": BACKEND_OPTIONS},
            "backend_state": {"type": "str", "choices": ["ready", "drain", "maint"]},
        },
        required_if=[
            ("state", "present", ["vip", "port", "backends"]),
            ("state", "backend", ["backend", "backend_state"]),
        ],
        supports_check_mode=True,
    )
    api = Zapi(**module.params["api"])
    try:
        result = run(module.params, module.check_mode, api)
    except ZapiError as err:
        module.fail_json(msg=str(err), requests=getattr(err, "sent", []))
    except PlanError as err:
        module.fail_json(msg=str(err), requests=[])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
