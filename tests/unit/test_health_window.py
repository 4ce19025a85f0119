"""Each adapter's <name>_lb_health_window: how long the health gate lets its checks judge the backends,
from the balancer host's settings (farm_settings of the balancer contract)."""

from __future__ import annotations

import modules
import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins import farm
from lookup_plugins import balancers

CONTRACT = balancers.contract()
M3 = {"inventory_hostname": "m3", "lab_address": "192.168.56.4"}


def window(balancer: str, host: dict | None = None) -> float:
    """The window as the balancer role computes it (vars/main.yml _balancer_window)."""
    adapter = CONTRACT[balancer]
    if not adapter["health_checks"]:
        return 0.0
    plugin = modules.load(f"roles/{balancer}_lb/filter_plugins/{balancer}_lb.py")
    return getattr(plugin, f"{balancer}_lb_health_window")(farm.farm_settings(host or M3, adapter), "m3")


def test_haproxy_waits_inter_times_the_larger_of_fall_and_rise() -> None:
    # the role's defaults: inter 2s, fall 3, rise 2
    assert window("haproxy") == 6.0
    host = {**M3, "haproxy_lb_check_inter": "500ms", "haproxy_lb_check_fall": 2, "haproxy_lb_check_rise": "5"}
    assert window("haproxy", host) == 2.5
    assert window("haproxy", {**M3, "haproxy_lb_check_inter": 1500}) == 4.5  # bare: ms


def test_haproxy_without_checks_judges_nothing() -> None:
    assert window("haproxy", {**M3, "haproxy_lb_check": False}) == 0.0
    assert window("haproxy", {**M3, "haproxy_lb_check": "no"}) == 0.0
    assert window("haproxy", {**M3, "haproxy_lb_check_path": ""}) == 0.0


def test_gobetween_waits_its_interval_times_fails_or_passes_and_one_timeout() -> None:
    # the role's defaults: interval 2s, timeout 1s, fails 2, passes 2
    assert window("gobetween") == 5.0
    host = {**M3, "gobetween_lb_healthcheck_interval": "1m30s", "gobetween_lb_healthcheck_passes": 3}
    assert window("gobetween", host) == 271.0
    assert window("gobetween", {**M3, "gobetween_lb_healthcheck": "none"}) == 0.0


def test_ipvs_with_keepalived_waits_for_its_retries_and_without_a_checker_not_at_all() -> None:
    # the role's defaults: interval 2, connect timeout 2, 1 retry 1 s apart
    assert window("ipvs") == 2 + 2 * 2 + 1
    assert window("ipvs", {**M3, "ipvs_lb_checker": "none"}) == 0.0


@pytest.mark.parametrize("balancer", ["nginx", "zevenet"])
def test_balancers_that_judge_each_request_or_elsewhere_wait_nothing(balancer: str) -> None:
    assert window(balancer) == 0.0


@pytest.mark.parametrize("balancer", [name for name, adapter in CONTRACT.items() if adapter["health_checks"]])
def test_every_adapter_with_health_checks_has_its_filter(balancer: str) -> None:
    plugin = modules.load(f"roles/{balancer}_lb/filter_plugins/{balancer}_lb.py")
    assert f"{balancer}_lb_health_window" in plugin.FilterModule().filters()


@pytest.mark.parametrize(
    ("var", "value", "said"),
    [
        ("haproxy_lb_check_inter", "2 seconds", "must be an HAProxy time"),
        ("haproxy_lb_check_fall", 0, "out of range"),
    ],
)
def test_a_bad_haproxy_value_is_named(var: str, value, said: str) -> None:
    with pytest.raises(AnsibleFilterError, match=f"m3: {var}=.*{said}"):
        window("haproxy", {**M3, var: value})


def test_a_bad_gobetween_duration_is_named() -> None:
    with pytest.raises(AnsibleFilterError, match="gobetween_lb_healthcheck_interval='2' must be a Go duration"):
        window("gobetween", {**M3, "gobetween_lb_healthcheck_interval": "2"})


def test_a_bad_ipvs_value_is_named() -> None:
    with pytest.raises(AnsibleFilterError, match="m3: ipvs_lb_check_retries='x' is not an integer"):
        window("ipvs", {**M3, "ipvs_lb_check_retries": "x"})
