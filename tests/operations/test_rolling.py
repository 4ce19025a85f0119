"""playbooks/rolling.yml: the backends changed one at a time under load, drained first, with two
clients at once, through HAProxy (molecule/default). One sends a request again when a kept-alive
connection closes before the answer, as browsers do: not one failed or non-2xx request. One never
resends (as ab -k): through HAProxy (states through its runtime API) not one either. What rolling.yml
asks of a balancer, a drain and a ready, test_backend_state checks on each balancer under the same
two clients (nginx reloads for each state)."""

from __future__ import annotations

import re

import pytest
from farmcheck import PACED_RATE, Load
from loadcheck import Load as StrictLoad

STRICT_WORKERS = 8
HALF_RATE = PACED_RATE / 2  # for each of the two clients: together, as much as one paced client


def test_rolling_change_loses_no_request(farm, playbook, report) -> None:
    if farm.balancer != "haproxy":
        pytest.skip(f"run on HAProxy; {farm.balancer}'s drain and ready under the same load are test_backend_state's")
    try:
        with (
            Load(farm.url, clients=8, seconds=400, rate=HALF_RATE) as load,
            StrictLoad(farm.url, seconds=400, workers=STRICT_WORKERS, keep_alive=True, rate=HALF_RATE) as strict,
        ):
            # any change of apache_backend: one that makes every backend reload
            run = playbook("playbooks/rolling.yml", apache_backend_max_keepalive_requests="999")
            result = strict.stop()
        report(f"rolling change of both backends ({farm.balancer}, {run.seconds:.0f} s play)", load.summary())
        report(
            f"rolling change of both backends ({farm.balancer}; {STRICT_WORKERS} kept-alive connections, "
            f"never resent; {run.seconds:.0f} s play)",
            result.summary(),
        )
        for backend in ("m1", "m2"):
            changed = re.search(rf"^{backend}\s+:.*?changed=(\d+)", run.output, re.M)
            assert changed, run.output[-2000:]
            assert int(changed.group(1)) > 0, f"{backend} was not changed"
        assert load.failed == 0, load.summary()
        assert load.non_2xx == 0, load.summary()
        assert result.requests > 0
        assert not result.failures, result.summary()
    finally:
        playbook("playbooks/backends.yml", check=False)
