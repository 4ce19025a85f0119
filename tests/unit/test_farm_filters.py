"""The model (filter_plugins/farm.py): the backends it reads, the shares, its errors; and what every
adapter's renderer has in common (each renderer's own lines are tested in its role, tests/unit)."""

from __future__ import annotations

import modules
import pytest
from ansible.errors import AnsibleFilterError
from lab_backends import LAB, backends

from filter_plugins import farm

nginx = modules.load("roles/nginx_lb/filter_plugins/nginx_lb.py")
haproxy = modules.load("roles/haproxy_lb/filter_plugins/haproxy_lb.py")
gobetween = modules.load("roles/gobetween_lb/filter_plugins/gobetween_lb.py")
ipvs = modules.load("roles/ipvs_lb/filter_plugins/ipvs_lb.py")


def test_backends_read_inventory_with_defaults() -> None:
    b = backends()
    assert b[0] == {
        "name": "m1",
        "address": "192.168.56.2",
        "port": 80,
        "https_port": 443,
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
