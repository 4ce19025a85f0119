"""Traffic through the balancer: every backend serves, by weight, sticky with a cookie, and failover."""

import pytest
from farmcheck import SHARE_TOLERANCE, wait_until

REQUESTS = 300


@pytest.fixture(autouse=True)
def _running(farm) -> None:
    farm.require_running_balancer()


def test_page_through_the_balancer_comes_from_every_backend(farm) -> None:
    seen = farm.count(20)
    assert set(seen) == set(farm.shares), seen


def test_share_follows_weights(farm) -> None:
    seen = farm.count(REQUESTS)
    assert sum(seen[name] for name in farm.shares) == REQUESTS, f"failed requests: {seen}"
    for name, share in farm.shares.items():
        assert abs(seen[name] / REQUESTS - share) <= SHARE_TOLERANCE, (name, share, seen)


def test_failover_to_the_other_backend_and_back(farm) -> None:
    if farm.balancer == "ipvs" and farm.setting("checker") == "none":
        pytest.skip("IPVS in the plain mode (ipvs_lb_checker: none) has no health checks: no failover")
    dead = farm.backends[0]["name"]
    alive = set(farm.shares) - {dead}
    apache = farm.host(dead)
    apache.run_test("systemctl stop apache2")
    try:
        # the detection window: health checks (HAProxy, keepalived for IPVS) or max_fails (nginx)
        assert wait_until(lambda: set(farm.count(10)) <= alive, timeout=30)
        if farm.balancer == "ipvs":  # keepalived's checker took the real server out of the table
            assert wait_until(lambda: farm.ipvs_weight(dead) is None, timeout=30), farm.ipvs_table()
        seen = farm.count(100)
        assert set(seen) <= alive, f"with {dead} stopped: {seen}"
    finally:
        apache.run_test("systemctl start apache2")
    assert wait_until(lambda: dead in farm.count(10), timeout=30), f"{dead} got no traffic back"
    if farm.balancer == "ipvs":  # back in the table with its weight
        assert farm.ipvs_weight(dead) == farm.backends[0]["weight"], farm.ipvs_table()
