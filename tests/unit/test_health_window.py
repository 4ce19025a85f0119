"""farm_health_window: how long the health gate lets a balancer's checks judge the backends."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins import farm

M3 = {"inventory_hostname": "m3", "lab_address": "192.168.56.4"}


def test_haproxy_waits_inter_times_the_larger_of_fall_and_rise() -> None:
    # the role's defaults: inter 2s, fall 3, rise 2
    assert farm.farm_health_window(M3, "haproxy") == 6.0
    host = {**M3, "haproxy_lb_check_inter": "500ms", "haproxy_lb_check_fall": 2, "haproxy_lb_check_rise": "5"}
    assert farm.farm_health_window(host, "haproxy") == 2.5
    assert farm.farm_health_window({**M3, "haproxy_lb_check_inter": 1500}, "haproxy") == 4.5  # bare: ms


def test_haproxy_without_checks_judges_nothing() -> None:
    assert farm.farm_health_window({**M3, "haproxy_lb_check": False}, "haproxy") == 0.0
    assert farm.farm_health_window({**M3, "haproxy_lb_check_path": ""}, "haproxy") == 0.0


def test_gobetween_waits_its_interval_times_fails_or_passes_and_one_timeout() -> None:
    # the role's defaults: interval 2s, timeout 1s, fails 2, passes 2
    assert farm.farm_health_window(M3, "gobetween") == 5.0
    host = {**M3, "gobetween_lb_healthcheck_interval": "1m30s", "gobetween_lb_healthcheck_passes": 3}
    assert farm.farm_health_window(host, "gobetween") == 271.0
    assert farm.farm_health_window({**M3, "gobetween_lb_healthcheck": "none"}, "gobetween") == 0.0


def test_ipvs_with_keepalived_waits_for_its_retries_and_without_a_checker_not_at_all() -> None:
    # the role's defaults: interval 2, connect timeout 2, 1 retry 1 s apart
    assert farm.farm_health_window(M3, "ipvs") == 2 + 2 * 2 + 1
    assert farm.farm_health_window({**M3, "ipvs_lb_checker": "none"}, "ipvs") == 0.0


@pytest.mark.parametrize("balancer", ["nginx", "zevenet"])
def test_balancers_that_judge_each_request_or_elsewhere_wait_nothing(balancer: str) -> None:
    assert farm.farm_health_window(M3, balancer) == 0.0


@pytest.mark.parametrize(
    ("var", "value", "said"),
    [
        ("haproxy_lb_check_inter", "2 seconds", "must be an HAProxy time"),
        ("haproxy_lb_check_fall", 0, "out of range"),
    ],
)
def test_a_bad_haproxy_value_is_named(var: str, value, said: str) -> None:
    with pytest.raises(AnsibleFilterError, match=f"m3: {var}=.*{said}"):
        farm.farm_health_window({**M3, var: value}, "haproxy")


def test_a_bad_gobetween_duration_is_named() -> None:
    with pytest.raises(AnsibleFilterError, match="gobetween_lb_healthcheck_interval='2' must be a Go duration"):
        farm.farm_health_window({**M3, "gobetween_lb_healthcheck_interval": "2"}, "gobetween")
