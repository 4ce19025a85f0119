"""A backend's state (playbooks/backend.yml): the record's checks and how each balancer renders it."""

from __future__ import annotations

import modules
import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins import farm

nginx = modules.load("roles/nginx_lb/filter_plugins/nginx_lb.py")
haproxy = modules.load("roles/haproxy_lb/filter_plugins/haproxy_lb.py")
gobetween = modules.load("roles/gobetween_lb/filter_plugins/gobetween_lb.py")
ipvs = modules.load("roles/ipvs_lb/filter_plugins/ipvs_lb.py")

LAB = {
    "m1": {"lab_address": "192.168.56.2", "backend_weight": 3},
    "m2": {"lab_address": "192.168.56.3", "backend_weight": 1},
}


def backends(**states: str) -> list[dict]:
    hostvars = {
        host: {**hvars, **({"backend_state": states[host]} if host in states else {})} for host, hvars in LAB.items()
    }
    return farm.farm_backends(list(hostvars), hostvars)


def test_a_backend_is_ready_unless_its_record_says_otherwise() -> None:
    assert [b["state"] for b in backends()] == ["ready", "ready"]
    assert [b["state"] for b in backends(m1="drain")] == ["drain", "ready"]


def test_the_balancer_host_s_record_is_given_as_an_argument_and_is_the_whole_truth() -> None:
    hostvars = {"m1": LAB["m1"], "m2": {**LAB["m2"], "backend_state": "maint"}}
    given = farm.farm_backends(["m1", "m2"], hostvars, {"m1": "drain"})
    assert [b["state"] for b in given] == ["drain", "ready"], "a backend the record does not name is ready"
    assert [b["state"] for b in farm.farm_backends(["m1", "m2"], hostvars, {})] == ["ready", "ready"]
    assert [b["state"] for b in farm.farm_backends(["m1", "m2"], hostvars, None)] == ["ready", "maint"]
    with pytest.raises(AnsibleFilterError, match=r"backend m2: backend_state='off' is not a backend state"):
        farm.farm_backends(["m1", "m2"], hostvars, {"m2": "off"})


def test_an_unknown_state_in_the_host_variables_names_the_host() -> None:
    with pytest.raises(AnsibleFilterError, match=r"backend m1: backend_state='off' is not a backend state: use one of"):
        backends(m1="off")


def test_nginx_takes_a_drained_or_maintained_server_down() -> None:
    assert nginx.nginx_lb_servers(backends(m1="drain")) == [
        "192.168.56.2 weight=3 max_fails=1 down",
        "192.168.56.3 weight=1 max_fails=1",
    ]
    assert nginx.nginx_lb_servers(backends(m2="maint"))[1].endswith(" down")


def test_haproxy_gives_a_drained_server_weight_zero_and_starts_a_maintained_one_disabled() -> None:
    assert haproxy.haproxy_lb_servers(backends(m1="drain", m2="ready")) == [
        "m1 192.168.56.2:80 weight 0 cookie m1 check",
        "m2 192.168.56.3:80 weight 1 cookie m2 check",
    ]
    assert haproxy.haproxy_lb_servers(backends(m1="maint"))[0] == "m1 192.168.56.2:80 weight 3 cookie m1 check disabled"


def test_gobetween_leaves_out_a_backend_that_is_not_ready() -> None:
    assert gobetween.gobetween_lb_static_list(backends(m1="drain")) == ["192.168.56.3:80 weight=1 priority=1"]


def test_ipvs_drains_with_weight_zero_and_leaves_out_maintenance() -> None:
    assert ipvs.ipvs_lb_rules(backends(m1="drain"), "192.168.100.1", 80, "wrr")[1:] == [
        "-a -t 192.168.100.1:80 -r 192.168.56.2:80 -m -w 0",
        "-a -t 192.168.100.1:80 -r 192.168.56.3:80 -m -w 1",
    ]
    assert ipvs.ipvs_lb_rules(backends(m1="maint"), "192.168.100.1")[1:] == [
        "-a -t 192.168.100.1:80 -r 192.168.56.3:80 -m -w 1"
    ]


@pytest.mark.parametrize(
    ("state", "present", "argv"),
    [
        ("drain", True, ["ipvsadm", "-e", "-t", "192.168.100.1:80", "-r", "192.168.56.2:80", "-m", "-w", "0"]),
        ("maint", True, ["ipvsadm", "-d", "-t", "192.168.100.1:80", "-r", "192.168.56.2:80"]),
        ("ready", True, ["ipvsadm", "-e", "-t", "192.168.100.1:80", "-r", "192.168.56.2:80", "-m", "-w", "3"]),
        ("ready", False, ["ipvsadm", "-a", "-t", "192.168.100.1:80", "-r", "192.168.56.2:80", "-m", "-w", "3"]),
    ],
)
def test_ipvs_state_commands_change_the_running_table(state: str, present: bool, argv: list[str]) -> None:
    assert ipvs.ipvs_lb_state_argv(backends()[0], state, "192.168.100.1", 80, "masquerade", present) == argv


def test_ipvs_state_command_of_the_https_service_names_the_backends_https_port() -> None:
    b = backends()[0] | {"https_port": 8443}
    assert ipvs.ipvs_lb_state_argv(b, "drain", "192.168.100.1", 443, key="https_port") == [
        *["ipvsadm", "-e", "-t", "192.168.100.1:443", "-r", "192.168.56.2:8443", "-m", "-w", "0"]
    ]


def test_ipvs_state_command_with_direct_routing() -> None:
    assert ipvs.ipvs_lb_state_argv(backends()[1], "drain", "10.0.0.1", 80, "route")[-3:] == ["-g", "-w", "0"]


def test_shares_count_only_ready_backends() -> None:
    assert farm.farm_shares(backends(m2="drain")) == {"m1": 1.0}


def test_record_keeps_only_backends_that_are_not_ready() -> None:
    assert farm.farm_backend_states({}, backends(), "m1", "drain") == {"m1": "drain"}
    assert farm.farm_backend_states({"m1": "drain"}, backends(), "m1", "maint") == {"m1": "maint"}
    assert farm.farm_backend_states({"m1": "drain"}, backends(), "m1", "ready") == {}
    assert farm.farm_backend_states(None, backends(), "m2", "ready") == {}


def test_record_forgets_backends_that_left_the_inventory() -> None:
    assert farm.farm_backend_states({"m9": "maint"}, backends(), "m1", "drain") == {"m1": "drain"}


@pytest.mark.parametrize(
    ("backend", "state", "message"),
    [
        ("m9", "drain", r"backend='m9' is not in the backends group: use one of m1, m2"),
        ("m1", "off", r"state='off' is unknown: use one of ready, drain, maint"),
        ("m2", "drain", r"state=drain for m2 would leave no backend ready \(m1: maint, m2: drain\)"),
    ],
)
def test_record_refuses_what_it_cannot_do(backend: str, state: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        farm.farm_backend_states({"m1": "maint"}, backends(), backend, state)


def test_refusal_quotes_the_daemon() -> None:
    result = {
        "msg": "failed to validate",
        "stderr": "[NOTICE] x\n[ALERT]    : config : parsing [/tmp/x:24] : 'timeout client': invalid\n",
        "stdout": "",
    }
    assert "'timeout client': invalid" in farm.farm_refusal(result)
    assert farm.farm_refusal({"msg": "failed to validate", "stderr": "", "stdout": ""}) == "failed to validate"
    assert farm.farm_refusal(None) == "the check failed and printed nothing"
