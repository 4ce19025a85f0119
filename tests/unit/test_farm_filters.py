"""The model (filter_plugins/farm.py) and each adapter's renderer (roles/<name>_lb/filter_plugins): every
line they write and every error."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import modules
import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins import farm

nginx = modules.load("roles/nginx_lb/filter_plugins/nginx_lb.py")
haproxy = modules.load("roles/haproxy_lb/filter_plugins/haproxy_lb.py")
gobetween = modules.load("roles/gobetween_lb/filter_plugins/gobetween_lb.py")
ipvs = modules.load("roles/ipvs_lb/filter_plugins/ipvs_lb.py")

LAB = {
    "m1": {"lab_address": "192.168.56.2", "backend_weight": 3, "backend_max_conns": 32},
    "m2": {"lab_address": "192.168.56.3", "backend_weight": 1, "backend_max_conns": 32},
}


def backends(**overrides: dict) -> list[dict]:
    hostvars = {host: {**hvars, **overrides.get(host, {})} for host, hvars in LAB.items()}
    return farm.farm_backends(list(hostvars), hostvars)


def test_backends_read_inventory_with_defaults() -> None:
    b = backends()
    assert b[0] == {
        "name": "m1",
        "address": "192.168.56.2",
        "port": 80,
        "weight": 3,
        "max_fails": 1,
        "fail_timeout": None,
        "max_conns": 32,
        "backup": False,
        "priority": None,
        "state": "ready",
    }
    assert [x["name"] for x in b] == ["m1", "m2"]


def test_backend_address_prefers_backend_address_then_lab_then_ansible_host() -> None:
    hv = {
        "a": {"backend_address": "10.0.0.1", "lab_address": "10.0.0.9"},
        "b": {"ansible_host": "10.0.0.2"},
    }
    assert [x["address"] for x in farm.farm_backends(["a", "b"], hv)] == ["10.0.0.1", "10.0.0.2"]


def test_string_values_from_ini_inventories_are_converted() -> None:
    b = backends(m1={"backend_weight": "5", "backend_port": "8080", "backend_backup": "no"})
    assert (b[0]["weight"], b[0]["port"], b[0]["backup"]) == (5, 8080, False)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"backend_weight": -1}, "backend m1: backend_weight=-1 is out of range"),
        ({"backend_weight": "heavy"}, "backend m1: backend_weight='heavy' is not an integer"),
        ({"backend_weight": True}, "backend m1: backend_weight=True is not an integer"),
        ({"backend_weight": 1.5}, "backend m1: backend_weight=1.5 is not an integer"),
        ({"backend_port": 0}, "backend m1: backend_port=0 is out of range: use 1-65535"),
        ({"backend_port": 65536}, "backend m1: backend_port=65536 is out of range: use 1-65535"),
        ({"backend_max_fails": -2}, "backend m1: backend_max_fails=-2 is out of range"),
        ({"backend_fail_timeout": 0}, "backend m1: backend_fail_timeout=0 is out of range"),
        ({"backend_max_conns": -1}, "backend m1: backend_max_conns=-1 is out of range"),
        ({"backend_backup": "maybe"}, "backend m1: backend_backup='maybe' is not a boolean"),
        ({"backend_priority": -1}, "backend m1: backend_priority=-1 is out of range: use 0 or more"),
        ({"lab_address": "10.0.0.1 10.0.0.2"}, "backend m1: lab_address='10.0.0.1 10.0.0.2' is not a host address"),
        ({"lab_address": None}, "backend m1: no address; set lab_address"),
        ({"lab_address": "192.168.56.3"}, "backend m2: 192.168.56.3:80 is already the address of backend m1"),
    ],
)
def test_bad_backend_input_names_host_variable_and_value(override: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message.replace(".", r"\.").replace("(", r"\(")):
        backends(m1=override)


def test_empty_backends_group_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match="the backends group is empty"):
        farm.farm_backends([], {})
    with pytest.raises(AnsibleFilterError, match="the backends group is empty"):
        farm.farm_backends(None, {})


def test_duplicate_backend_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match="backend m1: listed twice"):
        farm.farm_backends(["m1", "m1"], LAB)


def test_host_missing_from_hostvars_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match="backend m9: not found"):
        farm.farm_backends(["m9"], LAB)


def test_nginx_lines_match_the_hand_written_lab() -> None:
    hv = {h: {"lab_address": v["lab_address"], "backend_weight": v["backend_weight"]} for h, v in LAB.items()}
    b = farm.farm_backends(list(hv), hv)
    assert nginx.nginx_lb_servers(b) == ["192.168.56.2 weight=3 max_fails=1", "192.168.56.3 weight=1 max_fails=1"]


def test_nginx_lines_carry_port_timeout_conns_and_backup() -> None:
    b = backends(m2={"backend_port": 8082, "backend_fail_timeout": 5, "backend_backup": True})
    assert nginx.nginx_lb_servers(b, "least_conn") == [
        "192.168.56.2 weight=3 max_fails=1 max_conns=32",
        "192.168.56.3:8082 weight=1 max_fails=1 fail_timeout=5s max_conns=32 backup",
    ]


def test_nginx_rejects_weight_zero() -> None:
    with pytest.raises(AnsibleFilterError, match=r"backend m2: backend_weight=0 is out of range for nginx: use 1"):
        nginx.nginx_lb_servers(backends(m2={"backend_weight": 0}))


@pytest.mark.parametrize("method", ["ip_hash", "hash"])
def test_nginx_rejects_backup_with_hash_methods(method: str) -> None:
    message = f"backend m2: backend_backup=True cannot be used with nginx method {method}"
    with pytest.raises(AnsibleFilterError, match=message):
        nginx.nginx_lb_servers(backends(m2={"backend_backup": True}), method)


def test_nginx_rejects_unknown_method() -> None:
    with pytest.raises(AnsibleFilterError, match="nginx method 'random' is unknown: use one of round_robin"):
        nginx.nginx_lb_servers(backends(), "random")


def test_haproxy_lines_match_the_hand_written_lab() -> None:
    assert haproxy.haproxy_lb_servers(backends(), cookie=False, check=False) == [
        "m1 192.168.56.2:80 maxconn 32 weight 3",
        "m2 192.168.56.3:80 maxconn 32 weight 1",
    ]


def test_haproxy_lines_with_cookie_check_and_backup() -> None:
    b = backends(m2={"backend_backup": True, "backend_max_conns": None, "backend_port": 8080})
    assert haproxy.haproxy_lb_servers(b) == [
        "m1 192.168.56.2:80 maxconn 32 weight 3 cookie m1 check",
        "m2 192.168.56.3:8080 weight 1 cookie m2 check backup",
    ]


def test_haproxy_accepts_weight_zero_and_256() -> None:
    b = backends(m1={"backend_weight": 0}, m2={"backend_weight": 256})
    assert [line.split()[5] for line in haproxy.haproxy_lb_servers(b, cookie=False)] == ["0", "256"]


def test_haproxy_rejects_weight_above_256() -> None:
    message = "backend m1: backend_weight=257 is out of range for HAProxy: use 0-256"
    with pytest.raises(AnsibleFilterError, match=message):
        haproxy.haproxy_lb_servers(backends(m1={"backend_weight": 257}))


def test_haproxy_rejects_a_host_name_it_cannot_use_as_server_name() -> None:
    hv = {"web 1": {"lab_address": "10.0.0.1"}}
    with pytest.raises(AnsibleFilterError, match="backend web 1: inventory_hostname='web 1' is not a valid HAProxy"):
        haproxy.haproxy_lb_servers(farm.farm_backends(["web 1"], hv))


def test_ipvs_rules_of_the_lab() -> None:
    assert ipvs.ipvs_lb_rules(backends(), "192.168.100.1") == [
        "-A -t 192.168.100.1:80 -s rr",
        "-a -t 192.168.100.1:80 -r 192.168.56.2:80 -m -w 3",
        "-a -t 192.168.100.1:80 -r 192.168.56.3:80 -m -w 1",
    ]


def test_ipvs_single_host_lab_and_direct_routing() -> None:
    hv = {
        "m1": {"backend_address": "127.0.0.1", "backend_port": 8081},
        "m2": {"backend_address": "127.0.0.1", "backend_port": 8082},
    }
    assert ipvs.ipvs_lb_rules(farm.farm_backends(["m1", "m2"], hv), "192.168.100.1", 80, "wrr")[1:] == [
        "-a -t 192.168.100.1:80 -r 127.0.0.1:8081 -m -w 1",
        "-a -t 192.168.100.1:80 -r 127.0.0.1:8082 -m -w 1",
    ]
    assert (
        ipvs.ipvs_lb_rules(backends(), "10.0.0.1", method="route")[1] == "-a -t 10.0.0.1:80 -r 192.168.56.2:80 -g -w 3"
    )


@pytest.mark.parametrize(
    ("kwargs", "override", "message"),
    [
        ({"scheduler": "fastest"}, {}, "IPVS scheduler 'fastest' is unknown: use one of rr, wrr"),
        ({"method": "tunnel"}, {}, "IPVS method 'tunnel' is unknown"),
        ({}, {"backend_backup": True}, "backend m1: backend_backup=True has no equivalent in IPVS"),
        ({"method": "route"}, {"backend_port": 8080}, "backend m1: backend_port=8080 must be the virtual port 80"),
    ],
)
def test_ipvs_errors(kwargs: dict, override: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        ipvs.ipvs_lb_rules(backends(m1=override), "192.168.100.1", **kwargs)


def test_ipvs_keepalived_of_the_lab() -> None:
    check = ["HTTP_GET {", "url {", "path /", "status_code 200", "}", "connect_timeout 2", "retry 1"]
    check += ["delay_before_retry 1", "}"]
    lines = [line.strip() for line in ipvs.ipvs_lb_keepalived(backends(), "192.168.100.1", 80, "wrr")]
    assert lines == [
        "virtual_server 192.168.100.1 80 {",
        "delay_loop 2",
        "lb_algo wrr",
        "lb_kind NAT",
        "protocol TCP",
        *["real_server 192.168.56.2 80 {", "weight 3", *check, "}"],
        *["real_server 192.168.56.3 80 {", "weight 1", *check, "}"],
        "}",
    ]


def test_ipvs_keepalived_and_the_rules_list_the_same_real_servers() -> None:
    for states in ({}, {"m1": {"backend_state": "drain"}}, {"m2": {"backend_state": "maint"}}):
        b = backends(**states)
        rules = [(line.split()[4], line.split()[-1]) for line in ipvs.ipvs_lb_rules(b, "10.0.0.1")[1:]]
        words = [line.split() for line in ipvs.ipvs_lb_keepalived(b, "10.0.0.1")]
        servers = [f"{w[1]}:{w[2]}" for w in words if w[0] == "real_server"]
        weights = [w[1] for w in words if w[0] == "weight"]
        assert list(zip(servers, weights, strict=True)) == rules, states


def test_ipvs_keepalived_settings_and_direct_routing() -> None:
    check = {"path": "/health.html", "status": 204, "interval": 5, "connect_timeout": 3, "retries": 2}
    block = "\n".join(ipvs.ipvs_lb_keepalived(backends(), "10.0.0.1", 80, "lc", "route", check))
    for wanted in ("lb_kind DR", "lb_algo lc", "delay_loop 5", "path /health.html", "status_code 204"):
        assert wanted in block
    assert "connect_timeout 3" in block
    assert "retry 2" in block


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"path": "health"}, "ipvs_lb_check_path='health' must be a URL path starting with /"),
        ({"path": "/a b"}, "ipvs_lb_check_path='/a b' must be a URL path"),
        ({"status": 700}, "ipvs_lb_check_status=700 is out of range: use 100-599"),
        ({"interval": 0}, "ipvs_lb_check_interval=0 is out of range: use 1 or more"),
        ({"retries": "x"}, "ipvs_lb_check_retries='x' is not an integer"),
    ],
)
def test_ipvs_keepalived_errors(check: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        ipvs.ipvs_lb_keepalived(backends(), "192.168.100.1", check=check)


@pytest.mark.parametrize(
    ("method", "states"),
    [
        ("masquerade", {}),
        ("route", {"m1": {"backend_state": "drain"}}),
        ("masquerade", {"m2": {"backend_state": "maint"}}),
    ],
)
def test_keepalived_itself_accepts_the_rendered_configuration(tmp_path, method: str, states: dict) -> None:
    keepalived = shutil.which("keepalived") or "/usr/sbin/keepalived"
    if not Path(keepalived).exists():
        pytest.skip("keepalived is not installed here (make deps installs it): its own config test cannot run")
    config = tmp_path / "keepalived.conf"
    block = ipvs.ipvs_lb_keepalived(backends(**states), "192.168.100.1", 80, "wrr", method)
    config.write_text("global_defs {\n    router_id m3-ipvs\n}\n" + "\n".join(block) + "\n")
    checked = subprocess.run([keepalived, "--config-test", "--use-file", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr  # no warning either


def test_keepalived_itself_refuses_a_broken_configuration(tmp_path) -> None:
    """The check above can fail: keepalived -t exits non-zero and names the line of a bad value."""
    keepalived = shutil.which("keepalived") or "/usr/sbin/keepalived"
    if not Path(keepalived).exists():
        pytest.skip("keepalived is not installed here (make deps installs it): its own config test cannot run")
    config = tmp_path / "keepalived.conf"
    block = ipvs.ipvs_lb_keepalived(backends(), "192.168.100.1", 80, "wrr")
    config.write_text("\n".join(block).replace("weight 3", "weight -3") + "\n")
    checked = subprocess.run([keepalived, "--config-test", "--use-file", str(config)], capture_output=True, text=True)
    assert checked.returncode != 0
    assert "Real server weight -3 is outside range" in checked.stderr


@pytest.mark.parametrize(
    "renderer",
    [nginx.nginx_lb_servers, haproxy.haproxy_lb_servers, gobetween.gobetween_lb_static_list, farm.farm_shares],
)
def test_renderers_reject_anything_but_a_backend_list(renderer) -> None:
    with pytest.raises(AnsibleFilterError, match="expected the non-empty list from farm_backends"):
        renderer([])


def test_shares_follow_weights_and_leave_out_backups() -> None:
    assert farm.farm_shares(backends()) == {"m1": 0.75, "m2": 0.25}
    assert farm.farm_shares(backends(m2={"backend_backup": True})) == {"m1": 1.0}


def test_shares_need_one_backend_that_takes_traffic() -> None:
    with pytest.raises(AnsibleFilterError, match="no backend can take traffic"):
        farm.farm_shares(backends(m1={"backend_weight": 0}, m2={"backend_weight": 0}))


def test_filter_module_exposes_every_filter() -> None:
    assert set(farm.FilterModule().filters()) == {
        "farm_backends",
        "farm_shares",
        "farm_settings",
        "farm_endpoints",
        "farm_backend_states",
        "farm_refusal",
    }


@pytest.mark.parametrize(
    ("plugin", "names"),
    [
        (nginx, {"nginx_lb_servers"}),
        (haproxy, {"haproxy_lb_servers", "haproxy_lb_weight_changes", "haproxy_lb_health_window"}),
        (ipvs, {"ipvs_lb_rules", "ipvs_lb_keepalived", "ipvs_lb_state_argv", "ipvs_lb_health_window"}),
    ],
)
def test_each_adapter_exposes_its_own_filters_with_its_prefix(plugin, names: set[str]) -> None:
    assert set(plugin.FilterModule().filters()) == names
