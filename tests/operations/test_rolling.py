"""playbooks/rolling.yml: the backends changed one at a time under load, drained first, without a
failed or non-2xx request (molecule/default, on nginx; the drain itself is tested on both balancers)."""

from __future__ import annotations

import re

import pytest
from farmcheck import PACED_RATE, Load


def test_rolling_change_loses_no_request(farm, playbook, report) -> None:
    if farm.balancer != "nginx":
        pytest.skip("run once, on nginx (molecule/default): nginx reloads to drain, the harder case")
    try:
        with Load(farm.url, clients=16, seconds=400, rate=PACED_RATE) as load:
            # any change of apache_backend: one that makes every backend reload
            run = playbook("playbooks/rolling.yml", apache_backend_max_keepalive_requests="999")
        report(f"rolling change of both backends ({farm.balancer}, {run.seconds:.0f} s play)", load.summary())
        for backend in ("m1", "m2"):
            changed = re.search(rf"^{backend}\s+:.*?changed=(\d+)", run.output, re.M)
            assert changed, run.output[-2000:]
            assert int(changed.group(1)) > 0, f"{backend} was not changed"
        assert load.failed == 0, load.summary()
        assert load.non_2xx == 0, load.summary()
    finally:
        playbook("playbooks/backends.yml", check=False)
