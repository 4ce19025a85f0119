"""A swap that does not lose a request: HAProxy -> nginx -> HAProxy under load (molecule/default, on
HAProxy), both bound to port 80 with SO_REUSEPORT, the old one stopped gracefully after the new one
started, with two clients at once: one that sends a request again when a kept-alive connection
closes before the answer (as browsers do), and one that never resends (as ab -k)."""

from __future__ import annotations

import pytest
from farmcheck import PACED_RATE, Load
from loadcheck import Load as StrictLoad

STRICT_WORKERS = 8
HALF_RATE = PACED_RATE / 2  # for each of the two clients: together, as much as one paced client
# the share of failed requests a swap may cost the client that resends (issue 10: 0.1 %)
SWAP_LIMIT = 0.001
# What the old balancer's graceful stop may cost such a client, per kept-alive connection:
# HAProxy (option idle-close-on-response) answers the next request on an idle connection, then
# closes it: nothing. nginx closes its idle kept-alive connections at once: a request sent on one
# as it closes fails (measured: 2 of 44 170 with 8 connections), at most one per connection.
LOST_PER_CONNECTION = {"haproxy": 0, "nginx": 1}


def test_swap_there_and_back_under_load(farm, playbook, report) -> None:
    if farm.balancer != "haproxy":
        pytest.skip("measured once, on HAProxy (molecule/default): HAProxy -> nginx -> HAProxy")
    results = []
    try:
        for old, target in (("haproxy", "nginx"), ("nginx", "haproxy")):
            with (
                Load(farm.url, clients=8, seconds=300, rate=HALF_RATE) as load,
                StrictLoad(farm.url, seconds=300, workers=STRICT_WORKERS, keep_alive=True, rate=HALF_RATE) as strict,
            ):
                run = playbook("playbooks/balancer.yml", balancer=target)
                result = strict.stop()
            results.append((old, result, load))
            report(f"swap to {target} under load ({run.seconds:.0f} s play)", load.summary())
            report(
                f"swap from {old} to {target} under load ({STRICT_WORKERS} kept-alive connections, never resent; "
                f"{run.seconds:.0f} s play)",
                result.summary(),
            )
    finally:
        if len(results) < 2:  # stopped half-way: put the farm back on the scenario's balancer
            playbook("playbooks/balancer.yml", balancer=farm.balancer, check=False)
    for old, result, load in results:
        assert load.failed + load.non_2xx <= SWAP_LIMIT * load.total, load.summary()
        assert result.requests > 0
        assert len(result.failures) <= LOST_PER_CONNECTION[old] * STRICT_WORKERS, result.summary()
