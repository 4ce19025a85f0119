"""Every ZAPI request the zevenet_farm module sends, for an inventory and what the appliance holds.

The appliance is a fake HTTP layer answering GETs with JSON shaped like Zevenet CE 5.13's ZAPI
v4.0 (GET /farms/F of an http farm: params + services[] with backends[]; of an l4xnat farm:
params + backends[]; errors: {description, error, message}); it records every request.
"""

from __future__ import annotations

import copy
import io
import json
from typing import Any
from urllib.error import HTTPError, URLError

import modules
import pytest
from ansible.module_utils.testing import patch_module_args

from filter_plugins import farm

URL = "https://192.0.2.5:444/zapi/v4.0/zapi.cgi"
KEY = "not-a-real-key-0123456789"
VIP = "192.0.2.5"


zf = modules.load("roles/zevenet_lb/library/zevenet_farm.py")
zevenet = modules.load("roles/zevenet_lb/filter_plugins/zevenet_lb.py")


# ---- the inventory ---------------------------------------------------------------------------


def inventory_backends(weights: dict[str, int], profile: str = "http", **extra: dict[str, Any]) -> list[dict]:
    """The backends group (m1 .2, m2 .3, ...) through farm_backends, then zevenet_lb_zapi_backends."""
    hostvars = {
        name: {"lab_address": f"192.0.2.{2 + i}", "backend_weight": w, **extra.get(name, {})}
        for i, (name, w) in enumerate(weights.items())
    }
    return zevenet.zevenet_lb_zapi_backends(farm.farm_backends(list(weights), hostvars), profile)


def params(profile: str = "http", weights: dict[str, int] | None = None, **overrides: Any) -> dict[str, Any]:
    """The module's arguments as roles/zevenet_lb/tasks/configure.yml passes them with the defaults."""
    values = {
        "api": {"url": URL, "key": KEY, "validate_certs": False, "timeout": 30},  # vars/main.yml _zevenet_lb_api
        "farm": "lbfarm",
        "profile": profile,
        "vip": VIP,
        "port": 80,
        "service": "lbfarm",
        "algorithm": "",
        "farmguardian": "check_http",
        "backends": inventory_backends(weights or {"m1": 3, "m2": 1}, profile),
        "state": "present",
        "backend": None,
        "backend_state": None,
    }
    values.update(overrides)
    return values


# ---- the appliance ---------------------------------------------------------------------------


def http_backend(id_: int, ip: str, weight: int | None, status: str = "up", **extra: Any) -> dict[str, Any]:
    """A backend as getHTTPFarmBackends lists it with proxy_ng on (zproxy)."""
    backend = {
        "id": id_,
        "ip": ip,
        "port": 80,
        "timeout": None,
        "priority": None,
        "weight": weight,
        "connection_limit": None,
        "tag": None,
        "status": status,
    }
    backend.update(extra)
    return backend


def http_farm(backends: list[dict], status: str = "up", farmguardian: str | None = "check_http") -> dict[str, Any]:
    """GET /farms/lbfarm of an http farm."""
    return {
        "description": "List farm lbfarm",
        "params": {
            "status": status,
            "restimeout": 45,
            "contimeout": 20,
            "resurrectime": 10,
            "reqtimeout": 30,
            "rewritelocation": "disabled",
            "httpverb": "standardHTTP",
            "listener": "http",
            "vip": VIP,
            "vport": 80,
            "error500": "",
            "error414": "",
            "error501": "",
            "error503": "",
        },
        "services": [
            {
                "id": "lbfarm",
                "vhost": "",
                "urlp": "",
                "redirect": "",
                "redirecttype": "",
                "persistence": "",
                "ttl": 0,
                "sessionid": "",
                "leastresp": "false",
                "httpsb": "false",
                "pinnedconnection": "0",
                "routingpolicy": "ROUND_ROBIN",
                "rewritelocation": "disabled",
                "farmguardian": farmguardian,
                "backends": backends,
            }
        ],
    }


def l4_farm(backends: list[dict], status: str = "up", farmguardian: str | None = "check_http") -> dict[str, Any]:
    """GET /farms/lbfarm of an l4xnat farm (ports read back as strings)."""
    return {
        "description": "List farm lbfarm",
        "params": {
            "status": status,
            "vip": VIP,
            "vport": "80",
            "algorithm": "weight",
            "nattype": "nat",
            "persistence": "",
            "ttl": 120,
            "protocol": "tcp",
            "farmguardian": farmguardian,
            "listener": "l4xnat",
            "sessions": [],
        },
        "backends": backends,
    }


def l4_backend(id_: int, ip: str, weight: int, status: str = "up", **extra: Any) -> dict[str, Any]:
    backend = {"id": id_, "ip": ip, "port": "80", "weight": weight, "priority": 1, "status": status, "max_conns": 0}
    backend.update(extra)
    return backend


def error(description: str, message: str) -> dict[str, str]:
    """httpErrorResponse's body."""
    return {"description": description, "error": "true", "message": message}


NOT_FOUND = (404, error("Show farm lbfarm", "Farm not found."))
FG_OK = (200, {"description": "Retrive the farm guardian check_http", "params": {"name": "check_http"}})


class FakeZapi:
    """Answers GETs from `gets` (path -> (status, body)), writes from `writes` (default 200), records all."""

    def __init__(self, gets: dict[str, tuple[int, Any]], writes: dict[tuple[str, str], tuple[int, Any]] | None = None):
        self.gets = gets
        self.writes = writes or {}
        self.calls: list[tuple[str, str, Any]] = []

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        self.calls.append((method, path, copy.deepcopy(body)))
        if method == "GET":
            answer = self.gets[path]
            if not isinstance(answer, list):
                return answer
            # the answers of successive GETs (the farm before and after the writes), the last one kept
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return self.writes.get((method, path), (200, {"description": "ok"}))

    @property
    def sent(self) -> list[tuple[str, str, Any]]:
        """The write requests, in order."""
        return [c for c in self.calls if c[0] != "GET"]


def appliance(farm_answer: dict | None, status: str | None = None, gets: dict | None = None) -> FakeZapi:
    """An appliance holding farm_answer (None: no farm), whose status reads `status` after the writes."""
    status = status or ((farm_answer or {}).get("params") or {}).get("status", "up")
    answers = {
        "/farms/lbfarm": NOT_FOUND if farm_answer is None else (200, farm_answer),
        "/farms/lbfarm/status": (200, {"description": "Show farm lbfarm status", "params": {"status": status}}),
        "/monitoring/fg/check_http": FG_OK,
    }
    return FakeZapi({**answers, **(gets or {})})


SERVICE = "/farms/lbfarm/services/lbfarm"
M1 = {"ip": "192.0.2.2", "port": 80, "weight": 3}
M2 = {"ip": "192.0.2.3", "port": 80, "weight": 1}


# ---- configure (state=present) ---------------------------------------------------------------


def test_http_farm_created_from_nothing() -> None:
    api = appliance(None, status="up")
    result = zf.run(params(), False, api)
    assert api.sent == [
        ("POST", "/farms", {"farmname": "lbfarm", "profile": "http", "vip": VIP, "vport": 80}),
        ("POST", "/farms/lbfarm/services", {"id": "lbfarm"}),
        ("POST", f"{SERVICE}/backends", M1),
        ("POST", f"{SERVICE}/backends", M2),
        ("POST", f"{SERVICE}/fg", {"name": "check_http"}),
    ]
    assert result["changed"] is True
    assert result["status"] == "up"
    assert (
        result["lines"][0] == 'POST /farms {"farmname": "lbfarm", "profile": "http", "vip": "192.0.2.5", "vport": 80}'
    )


def test_l4xnat_farm_created_from_nothing() -> None:
    api = appliance(None, status="up")
    zf.run(params("l4xnat", algorithm="weight"), False, api)
    assert api.sent == [
        ("POST", "/farms", {"farmname": "lbfarm", "profile": "l4xnat", "vip": VIP, "vport": 80}),
        ("PUT", "/farms/lbfarm", {"algorithm": "weight"}),
        ("POST", "/farms/lbfarm/backends", M1),
        ("POST", "/farms/lbfarm/backends", M2),
        ("POST", "/farms/lbfarm/fg", {"name": "check_http"}),
    ]


def test_nothing_to_do_sends_no_write() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 3), http_backend(1, "192.0.2.3", 1)]))
    result = zf.run(params(), False, api)
    assert api.sent == []
    assert result == {"changed": False, "requests": [], "lines": [], "status": "up"}


def test_nothing_to_do_on_l4xnat_whose_ports_read_back_as_strings() -> None:
    api = appliance(l4_farm([l4_backend(0, "192.0.2.2", 3), l4_backend(1, "192.0.2.3", 1)]))
    assert zf.run(params("l4xnat", algorithm="weight"), False, api)["changed"] is False
    assert api.sent == []


def test_one_weight_changed_is_one_put() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 1), http_backend(1, "192.0.2.3", 1)]))
    zf.run(params(), False, api)
    assert api.sent == [("PUT", f"{SERVICE}/backends/0", {"weight": 3})]


def test_a_weight_never_set_on_the_appliance_is_set() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", None), http_backend(1, "192.0.2.3", 1)]))
    zf.run(params(), False, api)
    assert api.sent == [("PUT", f"{SERVICE}/backends/0", {"weight": 3})]


def test_a_backend_that_left_the_inventory_is_deleted() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 3), http_backend(1, "192.0.2.3", 1)]))
    zf.run(params(weights={"m1": 3}), False, api)
    assert api.sent == [("DELETE", f"{SERVICE}/backends/1", None)]


def test_deletes_go_from_the_highest_id_down_after_the_puts_and_before_the_posts() -> None:
    # On the appliance: a stranger (id 0), m1 with weight 1 (id 1), another stranger (id 2).
    current = [http_backend(0, "198.51.100.7", 5), http_backend(1, "192.0.2.2", 1), http_backend(2, "198.51.100.8", 5)]
    api = appliance(http_farm(current))
    zf.run(params(), False, api)
    assert api.sent == [
        ("PUT", f"{SERVICE}/backends/1", {"weight": 3}),
        ("DELETE", f"{SERVICE}/backends/2", None),
        ("DELETE", f"{SERVICE}/backends/0", None),
        ("POST", f"{SERVICE}/backends", M2),
    ]


def test_a_duplicate_made_by_hand_is_deleted() -> None:
    api = appliance(
        l4_farm([l4_backend(0, "192.0.2.2", 3), l4_backend(1, "192.0.2.3", 1), l4_backend(4, "192.0.2.3", 1)])
    )
    zf.run(params("l4xnat"), False, api)
    assert api.sent == [("DELETE", "/farms/lbfarm/backends/4", None)]


def test_a_backend_on_another_port_is_another_backend() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 3), http_backend(1, "192.0.2.3", 1, port=8080)]))
    zf.run(params(), False, api)
    assert api.sent == [("DELETE", f"{SERVICE}/backends/1", None), ("POST", f"{SERVICE}/backends", M2)]


def test_a_backup_gets_priority_2_and_back_to_1_when_it_is_no_longer_one() -> None:
    weights = {"m1": 3, "m2": 1}
    backends = zevenet.zevenet_lb_zapi_backends(
        farm.farm_backends(
            list(weights),
            {
                "m1": {"lab_address": "192.0.2.2", "backend_weight": 3},
                "m2": {"lab_address": "192.0.2.3", "backend_backup": True},
            },
        ),
        "l4xnat",
    )
    api = appliance(l4_farm([l4_backend(0, "192.0.2.2", 3), l4_backend(1, "192.0.2.3", 1)]))
    zf.run(params("l4xnat", backends=backends), False, api)
    assert api.sent == [("PUT", "/farms/lbfarm/backends/1", {"priority": 2})]

    api = appliance(l4_farm([l4_backend(0, "192.0.2.2", 3), l4_backend(1, "192.0.2.3", 1, priority=2)]))
    zf.run(params("l4xnat"), False, api)
    assert api.sent == [("PUT", "/farms/lbfarm/backends/1", {"priority": 1})]


def test_vip_port_and_algorithm_are_put_on_the_farm_when_they_differ() -> None:
    current = l4_farm([l4_backend(0, "192.0.2.2", 3), l4_backend(1, "192.0.2.3", 1)])
    current["params"].update(vip="192.0.2.9", vport="8080", algorithm="roundrobin")
    api = appliance(current)
    zf.run(params("l4xnat", algorithm="leastconn"), False, api)
    assert api.sent == [("PUT", "/farms/lbfarm", {"vip": VIP, "vport": 80, "algorithm": "leastconn"})]


def test_http_algorithm_is_the_services_routingpolicy() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 3), http_backend(1, "192.0.2.3", 1)]))
    zf.run(params(algorithm="LEAST_CONNECTIONS"), False, api)
    assert api.sent == [("PUT", SERVICE, {"routingpolicy": "LEAST_CONNECTIONS"})]


def test_http_algorithm_without_proxy_ng_is_refused() -> None:
    current = http_farm([http_backend(0, "192.0.2.2", 3), http_backend(1, "192.0.2.3", 1)])
    del current["services"][0]["routingpolicy"]
    with pytest.raises(zf.PlanError, match="leave zevenet_lb_algorithm empty"):
        zf.run(params(algorithm="LEAST_CONNECTIONS"), False, appliance(current))


def test_another_farmguardian_is_detached_then_ours_attached() -> None:
    current = http_farm([http_backend(0, "192.0.2.2", 3), http_backend(1, "192.0.2.3", 1)], farmguardian="check_tcp")
    api = appliance(current)
    zf.run(params(), False, api)
    assert api.sent == [("DELETE", f"{SERVICE}/fg/check_tcp", None), ("POST", f"{SERVICE}/fg", {"name": "check_http"})]


def test_no_farmguardian_wanted_detaches_the_one_there() -> None:
    api = appliance(l4_farm([l4_backend(0, "192.0.2.2", 3), l4_backend(1, "192.0.2.3", 1)]))
    zf.run(params("l4xnat", farmguardian=""), False, api)
    assert api.sent == [("DELETE", "/farms/lbfarm/fg/check_http", None)]


def test_a_farmguardian_the_appliance_does_not_have_stops_before_any_write() -> None:
    api = appliance(None, gets={"/monitoring/fg/check_web": (404, error("Retrive farm guardian", "not found"))})
    with pytest.raises(zf.PlanError, match="the farmguardian check_web does not exist"):
        zf.run(params(farmguardian="check_web"), False, api)
    assert api.sent == []


def test_a_farm_of_another_profile_is_not_touched() -> None:
    api = appliance(l4_farm([]))
    with pytest.raises(zf.PlanError, match="is a l4xnat farm, not http"):
        zf.run(params(), False, api)
    assert api.sent == []


def test_a_farm_with_changes_pending_is_restarted_after_them() -> None:
    api = appliance(
        http_farm([http_backend(0, "192.0.2.2", 1), http_backend(1, "192.0.2.3", 1)]), status="needed restart"
    )
    result = zf.run(params(), False, api)
    assert api.sent == [
        ("PUT", f"{SERVICE}/backends/0", {"weight": 3}),
        ("PUT", "/farms/lbfarm/actions", {"action": "restart"}),
    ]
    assert result["requests"][-1]["body"] == {"action": "restart"}


def test_check_mode_sends_no_write_and_reports_what_it_would_send() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 1)]))
    result = zf.run(params(), True, api)
    assert api.sent == []
    assert {method for method, _, _ in api.calls} == {"GET"}
    assert result["changed"] is True
    assert result["lines"] == [
        f'PUT {SERVICE}/backends/0 {{"weight": 3}}',
        f'POST {SERVICE}/backends {{"ip": "192.0.2.3", "port": 80, "weight": 1}}',
    ]


def test_check_mode_on_an_empty_appliance() -> None:
    api = appliance(None)
    result = zf.run(params(), True, api)
    assert api.sent == []
    assert len(result["requests"]) == 5
    assert result["status"] == "absent"


# ---- recorded backend states (playbooks/backend.yml) ------------------------------------------


def drained(weights: dict[str, int] | None = None, profile: str = "http", **states: str) -> list[dict]:
    """The backends as configure.yml passes them, with recorded states (m2="drain")."""
    extra = {name: {"backend_state": state} for name, state in states.items()}
    return inventory_backends(weights or {"m1": 3, "m2": 1}, profile, **extra)


def test_a_farm_created_again_puts_each_backend_back_in_its_recorded_state() -> None:
    created = http_farm([http_backend(0, "192.0.2.2", 3), http_backend(1, "192.0.2.3", 1)])
    api = appliance(None, gets={"/farms/lbfarm": [NOT_FOUND, (200, created)]})
    zf.run(params(backends=drained(m2="drain")), False, api)
    assert api.sent[-1] == ("PUT", f"{SERVICE}/backends/1/maintenance", {"action": "maintenance", "mode": "drain"})
    assert len(api.sent) == 6  # the farm, its service, two backends, the health check, then the state


def test_an_l4xnat_farm_created_again_cuts_a_backend_recorded_in_maintenance() -> None:
    created = l4_farm([l4_backend(0, "192.0.2.2", 3), l4_backend(1, "192.0.2.3", 1)])
    api = appliance(None, gets={"/farms/lbfarm": [NOT_FOUND, (200, created)]})
    zf.run(params("l4xnat", backends=drained(profile="l4xnat", m1="maint")), False, api)
    assert api.sent[-1] == ("PUT", "/farms/lbfarm/backends/0/maintenance", {"action": "maintenance", "mode": "cut"})


def test_states_already_on_the_appliance_send_nothing() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 3), http_backend(1, "192.0.2.3", 1, "maintenance")]))
    result = zf.run(params(backends=drained(m2="maint")), False, api)
    assert api.sent == []
    assert result["changed"] is False


def test_a_backend_put_in_maintenance_by_hand_comes_back_when_recorded_ready() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 3, "maintenance"), http_backend(1, "192.0.2.3", 1)]))
    zf.run(params(), False, api)
    assert api.sent == [("PUT", f"{SERVICE}/backends/0/maintenance", {"action": "up"})]


def test_check_mode_lists_the_state_of_a_backend_it_would_add() -> None:
    api = appliance(None)
    result = zf.run(params(backends=drained(m2="drain")), True, api)
    assert api.sent == []
    assert result["lines"][-1] == (
        f'PUT {SERVICE}/backends/<new 192.0.2.3:80>/maintenance {{"action": "maintenance", "mode": "drain"}}'
    )


def test_a_backend_missing_after_configure_is_an_error() -> None:
    api = appliance(None, gets={"/farms/lbfarm": [NOT_FOUND, (200, http_farm([http_backend(0, "192.0.2.2", 3)]))]})
    with pytest.raises(zf.PlanError, match=r"192.0.2.3:80 is not in farm lbfarm after configure"):
        zf.run(params(backends=drained(m2="drain")), False, api)


# ---- refused calls ---------------------------------------------------------------------------


def test_a_refused_call_stops_with_zevenets_message_and_what_went_through() -> None:
    api = appliance(None)
    api.writes[("POST", "/farms/lbfarm/services")] = (
        400,
        error("New service", "Error, the service lbfarm already exist."),
    )
    with pytest.raises(zf.ZapiError) as caught:
        zf.run(params(), False, api)
    assert str(caught.value) == (
        'Zevenet refused POST /farms/lbfarm/services {"id": "lbfarm"} (HTTP 400): '
        "Error, the service lbfarm already exist."
    )
    assert caught.value.sent == [
        zf.request("POST", "/farms", {"farmname": "lbfarm", "profile": "http", "vip": VIP, "vport": 80})
    ]
    assert len(api.sent) == 2  # nothing after the refused call


def test_a_refused_key_says_how_to_get_one() -> None:
    api = FakeZapi({"/farms/lbfarm": (401, error("Authorization required", "Authorization required"))})
    with pytest.raises(zf.ZapiError, match=r"enable the zapi user on the appliance \(System > Users\)"):
        zf.run(params(), False, api)


# ---- actions, backend states, removal --------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "expected"),
    [
        ("started", "down", [("PUT", "/farms/lbfarm/actions", {"action": "start"})]),
        ("started", "needed restart", [("PUT", "/farms/lbfarm/actions", {"action": "restart"})]),
        ("started", "up", []),
        ("stopped", "up", [("PUT", "/farms/lbfarm/actions", {"action": "stop"})]),
        ("stopped", "down", []),
        ("absent", "up", [("DELETE", "/farms/lbfarm", None)]),
    ],
)
def test_actions(state: str, status: str, expected: list) -> None:
    api = appliance(http_farm([], status=status))
    zf.run(params(state=state), False, api)
    assert api.sent == expected


def test_no_farm_is_nothing_to_stop_or_remove_but_cannot_be_started() -> None:
    for state in ("stopped", "absent"):
        api = appliance(None)
        assert zf.run(params(state=state), False, api)["changed"] is False
        assert api.sent == []
    with pytest.raises(zf.PlanError, match="configure it first"):
        zf.run(params(state="started"), False, appliance(None))


@pytest.mark.parametrize(
    ("wanted", "status", "expected"),
    [
        ("drain", "up", {"action": "maintenance", "mode": "drain"}),
        ("maint", "up", {"action": "maintenance", "mode": "cut"}),
        ("ready", "maintenance", {"action": "up"}),
        ("ready", "up", None),
        ("drain", "maintenance", None),
    ],
)
def test_backend_states_on_an_http_farm(wanted: str, status: str, expected: dict | None) -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 3), http_backend(1, "192.0.2.3", 1, status=status)]))
    args = params(state="backend", backend={"ip": "192.0.2.3", "port": 80}, backend_state=wanted)
    zf.run(args, False, api)
    assert api.sent == ([] if expected is None else [("PUT", f"{SERVICE}/backends/1/maintenance", expected)])


def test_backend_state_on_an_l4xnat_farm() -> None:
    api = appliance(l4_farm([l4_backend(0, "192.0.2.2", 3), l4_backend(7, "192.0.2.3", 1)]))
    args = params("l4xnat", state="backend", backend={"ip": "192.0.2.3", "port": 80}, backend_state="drain")
    zf.run(args, False, api)
    assert api.sent == [("PUT", "/farms/lbfarm/backends/7/maintenance", {"action": "maintenance", "mode": "drain"})]


def test_backend_state_of_a_backend_not_in_the_farm() -> None:
    api = appliance(http_farm([http_backend(0, "192.0.2.2", 3)]))
    args = params(state="backend", backend={"ip": "192.0.2.3", "port": 80}, backend_state="drain")
    with pytest.raises(zf.PlanError, match=r"no backend 192.0.2.3:80 in farm lbfarm"):
        zf.run(args, False, api)


# ---- the module as Ansible runs it, over the real HTTP code path -----------------------------


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, json.dumps(body).encode()

    def getcode(self) -> int:
        return self.status

    def read(self) -> bytes:
        return self.body


def run_main(monkeypatch: pytest.MonkeyPatch, answers: dict[tuple[str, str], tuple[int, Any]], args: dict) -> tuple:
    """main() with open_url answering from `answers`; returns (exit or fail dict, recorded calls)."""
    calls: list[dict] = []

    def fake_open_url(url: str, method: str, data: str | None, headers: dict, validate_certs: bool, timeout: int):
        path = url[len(URL) :]
        calls.append(
            {
                "method": method,
                "path": path,
                "body": data and json.loads(data),
                "headers": headers,
                "validate_certs": validate_certs,
                "timeout": timeout,
            }
        )
        if (method, path) not in answers:
            raise URLError("connection refused")
        status, body = answers[(method, path)]
        if status >= 400:
            raise HTTPError(url, status, "error", {}, io.BytesIO(json.dumps(body).encode()))
        return FakeResponse(status, body)

    monkeypatch.setattr(zf, "open_url", fake_open_url)
    with patch_module_args(args), pytest.raises(SystemExit) as leaving:
        zf.main()
    return leaving.value.code, calls


def module_args(**overrides: Any) -> dict[str, Any]:
    args = params(**overrides)
    return {k: v for k, v in args.items() if v is not None}


def test_main_fails_with_zevenets_message_and_never_shows_the_key(monkeypatch, capsys) -> None:
    answers = {
        ("GET", "/farms/lbfarm"): (200, http_farm([http_backend(0, "192.0.2.2", 3)])),
        ("GET", "/monitoring/fg/check_http"): FG_OK,
        ("POST", f"{SERVICE}/backends"): (
            400,
            error("New service backend", "A backend with address 192.0.2.3:80 already exists"),
        ),
    }
    code, calls = run_main(monkeypatch, answers, module_args())
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["failed"] is True
    assert out["msg"].endswith("(HTTP 400): A backend with address 192.0.2.3:80 already exists")
    assert KEY not in json.dumps(out)
    assert all(call["headers"]["ZAPI_KEY"] == KEY for call in calls)
    assert [(c["method"], c["path"]) for c in calls] == [
        ("GET", "/farms/lbfarm"),
        ("GET", "/monitoring/fg/check_http"),
        ("POST", f"{SERVICE}/backends"),
    ]


def test_main_in_check_mode_sends_only_gets(monkeypatch, capsys) -> None:
    answers = {("GET", "/farms/lbfarm"): NOT_FOUND, ("GET", "/monitoring/fg/check_http"): FG_OK}
    code, calls = run_main(monkeypatch, answers, {**module_args(), "_ansible_check_mode": True})
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["changed"] is True
    assert {c["method"] for c in calls} == {"GET"}
    assert out["lines"][-1] == f'POST {SERVICE}/fg {{"name": "check_http"}}'


def test_main_says_when_the_appliance_does_not_answer(monkeypatch, capsys) -> None:
    code, _ = run_main(monkeypatch, {}, module_args())
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "no answer from the ZAPI at https://192.0.2.5:444/zapi/v4.0/zapi.cgi" in out["msg"]
    assert "zevenet_lb_url" in out["msg"]


@pytest.mark.parametrize(
    ("api", "validate_certs", "timeout"),
    [
        ({"url": URL, "key": KEY}, False, 30),  # the module's defaults
        ({"url": URL, "key": KEY, "validate_certs": "yes", "timeout": "5"}, True, 5),  # templated: text
    ],
)
def test_main_reaches_the_zapi_as_its_one_argument_api_says(monkeypatch, capsys, api, validate_certs, timeout) -> None:
    answers = {("GET", "/farms/lbfarm"): NOT_FOUND, ("GET", "/monitoring/fg/check_http"): FG_OK}
    code, calls = run_main(monkeypatch, answers, {**module_args(api=api), "_ansible_check_mode": True})
    out = capsys.readouterr().out
    assert code == 0
    assert KEY not in out  # no_log on api.key
    assert calls
    assert all(c["validate_certs"] is validate_certs and c["timeout"] == timeout for c in calls)
    assert all(c["headers"]["ZAPI_KEY"] == KEY for c in calls)


def test_main_wants_the_url_and_the_key_in_api(monkeypatch, capsys) -> None:
    code, calls = run_main(monkeypatch, {}, module_args(api={"url": URL}))
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "missing required arguments: key" in out["msg"]
    assert calls == []
