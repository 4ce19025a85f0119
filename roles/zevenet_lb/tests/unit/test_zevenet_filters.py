"""roles/zevenet_lb's filters: the backend list rendered as Zevenet ZAPI objects (weights 1-9, IP addresses,
backups, caps) and the farm's VIP checked."""

from __future__ import annotations

import modules
import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins import farm

zevenet = modules.load("roles/zevenet_lb/filter_plugins/zevenet_lb.py")


def backends(**hosts: dict) -> list[dict]:
    """farm_backends over hosts named m1, m2... each with the given backend_* variables."""
    hostvars = {name: {"lab_address": f"192.0.2.{2 + i}", **v} for i, (name, v) in enumerate(hosts.items())}
    return farm.farm_backends(list(hosts), hostvars)


def test_the_labs_weights_render_as_they_are() -> None:
    rendered = zevenet.zevenet_lb_zapi_backends(backends(m1={"backend_weight": 3}, m2={"backend_weight": 1}))
    assert rendered == [
        {"name": "m1", "ip": "192.0.2.2", "port": 80, "weight": 3, "state": "ready"},
        {"name": "m2", "ip": "192.0.2.3", "port": 80, "weight": 1, "state": "ready"},
    ]


@pytest.mark.parametrize("policy", ["refuse", "scale"])
def test_weight_0_is_refused_naming_host_variable_and_value(policy: str) -> None:
    with pytest.raises(AnsibleFilterError, match=r"backend m2: backend_weight=0 is out of range for Zevenet: use 1-9"):
        zevenet.zevenet_lb_zapi_backends(backends(m1={}, m2={"backend_weight": 0}), "http", policy)


def test_weight_above_9_is_refused_by_default() -> None:
    with pytest.raises(AnsibleFilterError, match=r"backend m1: backend_weight=12 .* zevenet_lb_weight_policy: scale"):
        zevenet.zevenet_lb_zapi_backends(backends(m1={"backend_weight": 12}, m2={}))


def test_weights_above_9_are_scaled_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(zevenet._display, "warning", warnings.append)
    rendered = zevenet.zevenet_lb_zapi_backends(
        backends(m1={"backend_weight": 30}, m2={"backend_weight": 10}, m3={"backend_weight": 1}), "http", "scale"
    )
    assert [b["weight"] for b in rendered] == [9, 3, 1]
    assert warnings == [
        "Zevenet takes weights 1-9 only; scaled them (zevenet_lb_weight_policy: scale): "
        "m1 30 -> 9, m2 10 -> 3, m3 1 -> 1"
    ]


def test_weights_within_1_9_are_not_scaled_nor_warned(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(zevenet._display, "warning", warnings.append)
    rendered = zevenet.zevenet_lb_zapi_backends(backends(m1={"backend_weight": 9}, m2={}), "http", "scale")
    assert [b["weight"] for b in rendered] == [9, 1]
    assert warnings == []


def test_a_host_name_is_refused_zevenet_takes_ip_addresses() -> None:
    hosts = farm.farm_backends(["m1"], {"m1": {"lab_address": "m1.lab"}})
    with pytest.raises(AnsibleFilterError, match=r"backend m1: backend_address='m1.lab' is not an IP address"):
        zevenet.zevenet_lb_zapi_backends(hosts)


def test_a_backup_is_priority_2_and_a_priority_is_kept() -> None:
    rendered = zevenet.zevenet_lb_zapi_backends(
        backends(m1={"backend_priority": 3}, m2={"backend_backup": True}, m3={}), "l4xnat"
    )
    assert [b.get("priority") for b in rendered] == [3, 2, None]


def test_a_priority_out_of_1_9_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match=r"backend m1: backend_priority=12 is out of range for Zevenet"):
        zevenet.zevenet_lb_zapi_backends(backends(m1={"backend_priority": 12}))


@pytest.mark.parametrize(("profile", "key"), [("http", "connection_limit"), ("l4xnat", "max_conns")])
def test_a_connection_cap_takes_each_profiles_name(profile: str, key: str) -> None:
    rendered = zevenet.zevenet_lb_zapi_backends(backends(m1={"backend_max_conns": 32}, m2={}), profile)
    assert rendered[0][key] == 32
    assert "max_conns" not in rendered[1]
    assert "connection_limit" not in rendered[1]


def test_unknown_profile_and_policy_are_refused() -> None:
    with pytest.raises(AnsibleFilterError, match=r"zevenet_lb_profile='https' is unknown: use one of http, l4xnat"):
        zevenet.zevenet_lb_zapi_backends(backends(m1={}), "https")
    with pytest.raises(AnsibleFilterError, match=r"zevenet_lb_weight_policy='clip' is unknown"):
        zevenet.zevenet_lb_zapi_backends(backends(m1={}), "http", "clip")


def test_the_vip_must_be_an_ip_address() -> None:
    assert zevenet.zevenet_lb_zapi_vip("192.0.2.5") == "192.0.2.5"
    assert zevenet.zevenet_lb_zapi_vip(" 2001:db8::5 ") == "2001:db8::5"
    for bad in ("", "zevenet.lab", None):
        with pytest.raises(AnsibleFilterError, match=r"zevenet_lb_vip=.* is not an IP address"):
            zevenet.zevenet_lb_zapi_vip(bad)


def test_each_backend_carries_its_recorded_state() -> None:
    rendered = zevenet.zevenet_lb_zapi_backends(backends(m1={"backend_state": "drain"}, m2={"backend_state": "maint"}))
    assert [b["state"] for b in rendered] == ["drain", "maint"]
