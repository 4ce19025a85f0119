"""playbooks/rolling.yml: the backends changed one at a time under load, drained first, with a
client that never resends (as ab -k): through HAProxy (states through its runtime API) not one
failed or non-2xx request; through nginx (a reload per state) at most one per kept-alive
connection and reload (molecule/default runs both)."""

from __future__ import annotations

import re

import pytest
from loadcheck import Load as StrictLoad

STRICT_WORKERS = 8
RELOADS = {"haproxy": 0, "nginx": 4}  # drain and ready, for each of the two backends


def test_rolling_change_loses_no_request(farm, playbook, report) -> None:
    if farm.balancer not in RELOADS:
        pytest.skip(f"run on HAProxy and nginx (molecule/default), not {farm.balancer}")
    try:
        with StrictLoad(farm.url, seconds=400, workers=STRICT_WORKERS, keep_alive=True, rate=400) as load:
            # any change of apache_backend: one that makes every backend reload
            run = playbook("playbooks/rolling.yml", apache_backend_max_keepalive_requests="999")
            result = load.stop()
        report(
            f"rolling change of both backends ({farm.balancer}; {STRICT_WORKERS} kept-alive connections, "
            f"never resent; {run.seconds:.0f} s play)",
            result.summary(),
        )
        for backend in ("m1", "m2"):
            changed = re.search(rf"^{backend}\s+:.*?changed=(\d+)", run.output, re.M)
            assert changed, run.output[-2000:]
            assert int(changed.group(1)) > 0, f"{backend} was not changed"
        assert result.requests > 0
        assert len(result.failures) <= RELOADS[farm.balancer] * STRICT_WORKERS, result.summary()
    finally:
        playbook("playbooks/backends.yml", check=False)
