"""A configuration the daemon accepts but that serves nothing (every backend on a port where nothing
listens), applied under load. Where the balancer can run a second instance (nginx, HAProxy,
gobetween), the canary (roles/balancer/tasks/canary.yml) runs it on a side port first and port 80
never gets it: not one request is lost. Elsewhere (IPVS) it goes live, the health gate
(roles/balancer/tasks/gate.yml) sees it not serve and rolls it back by itself. Either way the play
fails naming what did not answer, the configuration that served is the live one, and the farm
answers. The requests lost by a client that never resends are counted and printed."""

from __future__ import annotations

import json
import time

import pytest
from contract import CONTRACT
from loadcheck import Load as StrictLoad

LAST_GOOD = "/etc/lbfarm/last-good/served.json"
CANARIES = {name for name, adapter in CONTRACT.items() if adapter["canary"]}
# accepted by every balancer's check; nothing listens there on the backends
WRONG_PORT = "backend_port=81"


def live_files(host) -> dict[str, str]:
    """The files of the configuration that served last, with their checksums now."""
    served = json.loads(host.file(LAST_GOOD).content_string)
    return {path: host.file(path).sha256sum for path in served["files"]}


# balancer -> a value it accepts whose harm only its health checks find, a few seconds after it is
# live (HAProxy marks every server down after inter x fall: the gate waits that long first)
FOUND_BY_CHECKS = {"haproxy": "haproxy_lb_check_path=/lbfarm-no-such-page"}


def rolled_back(farm, playbook, report, what: str, *args: str, new: str = "") -> None:
    """Apply the bad change (under load from this machine); the play fails, and what served serves again."""
    farm.require_running_balancer()
    if farm.lab_client and farm.balancer != "ipvs":
        pytest.skip(f"in the VMs the rollback is tested with IPVS, which only they run; {farm.balancer} in containers")
    balancer = farm.host(farm.balancer_host)
    before = live_files(balancer)
    result = None
    if farm.lab_client:  # the farm answers in the lab's namespace: no load from this machine
        run = playbook("playbooks/balancer.yml", *args, check=False)
    else:
        with StrictLoad(farm.url, seconds=300, workers=8, keep_alive=True, rate=400) as load:
            time.sleep(1)
            run = playbook("playbooks/balancer.yml", *args, check=False)
            time.sleep(1)
            result = load.stop()
        report(
            f"rollback of {what} ({farm.balancer}; 8 kept-alive connections, never resent; {run.seconds:.0f} s play)",
            result.summary(),
        )
    try:
        check_rolled_back(farm, balancer, run, before, result, new or farm.balancer)
    except BaseException:
        playbook("playbooks/balancer.yml", check=False)  # the farm as it was, for the next tests
        raise


def check_rolled_back(farm, balancer, run, before: dict[str, str], result, new: str) -> None:
    assert run.rc != 0, run.output[-3000:]
    assert f"The new {new} configuration on {farm.balancer_host} did not serve" in run.output, run.output[-3000:]
    if new in CANARIES:
        assert f"Port 80 was not touched: {farm.balancer} serves on" in run.output, run.output[-3000:]
    else:
        assert f"({farm.balancer}) is live again and serves" in run.output, run.output[-3000:]
    assert live_files(balancer) == before
    assert balancer.file("/etc/lbfarm-balancer").content_string.strip() == farm.balancer
    assert set(farm.count(60)) == set(farm.shares)
    if result is not None:
        if new in CANARIES:  # port 80 never served it
            assert not result.failures, result.summary()
        # it served again before the play ended: the last requests all got their answer
        assert result.succeeded_after(result.duration - 1) > 0, result.summary()
        assert not result.failures_between(result.duration - 1), result.summary()


def test_configuration_that_serves_nothing_is_rolled_back(farm, playbook, report) -> None:
    rolled_back(farm, playbook, report, "every backend on a closed port", "-e", WRONG_PORT)


def test_configuration_whose_health_checks_fail_is_rolled_back(farm, playbook, report) -> None:
    if farm.balancer not in FOUND_BY_CHECKS:
        pytest.skip(f"written for HAProxy's checks, not {farm.balancer}")
    rolled_back(farm, playbook, report, "a health check path that answers 404", "-e", FOUND_BY_CHECKS[farm.balancer])


def test_swap_to_a_configuration_that_serves_nothing_is_rolled_back(farm, playbook, report) -> None:
    if farm.balancer != "haproxy":
        pytest.skip("swapped once, from HAProxy (molecule/default) to nginx and back")
    rolled_back(
        farm,
        playbook,
        report,
        "a swap to nginx with every backend on a closed port",
        "-e",
        "balancer=nginx",
        "-e",
        WRONG_PORT,
        new="nginx",
    )
