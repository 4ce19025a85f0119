"""What a dead real server costs in requests while keepalived's checker notices it (IPVS).

From the lab client, a bounded paced load through the VIP; Apache is stopped on m1; keepalived's
HTTP check fails, m1 leaves the table, and from then on every request is answered by the others.
The requests failed in between are the price of the check window: printed, and bounded by it.
With HTTPS passed through, m1 leaves the HTTPS service too (keepalived's SSL_GET over TLS), and
comes back to both with its weight once Apache answers again.
Measured under emulation (TCG) here: the window's length depends on the VM's speed.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from farmcheck import wait_until
from loadcheck import LoadResult

testinfra_hosts = ["balancers"]

LOAD_SECONDS = 180  # the bound; the load is stopped AFTER_LEFT seconds after the checker acted
STOP_AFTER = 5  # seconds of load before Apache stops on the first backend
AFTER_LEFT = 10  # seconds of load once the first backend has left the table
CLIENT_TIMEOUT = 2.0
LOADCHECK = Path(__file__).resolve().parents[1] / "loadcheck.py"


def test_dead_real_server_leaves_the_table_and_costs_only_the_check_window(farm) -> None:
    if farm.balancer != "ipvs" or farm.setting("checker") != "keepalived":
        pytest.skip("the balancer is not IPVS with keepalived's checker")
    if not farm.lab_client:
        pytest.skip("no lab client to send the load from")
    dead = farm.backends[0]
    apache = farm.host(dead["name"])
    https = bool(farm.setting("https"))
    if https:  # both services list it before the stop
        table = farm.ipvs_table()
        assert farm.ipvs_weight(dead["name"], table, https=True) == dead["weight"], table
    load = subprocess.Popen(
        ["ip", "netns", "exec", farm.lab_client["netns"], sys.executable, str(LOADCHECK), farm.url,
         str(LOAD_SECONDS), "--workers", "4", "--rate", "100", "--timeout", str(CLIENT_TIMEOUT), "--json"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(STOP_AFTER)
        stopped = time.time()
        apache.run_test("systemctl stop apache2")
        assert wait_until(lambda: farm.ipvs_weight(dead["name"]) is None, timeout=60), farm.ipvs_table()
        left = time.time()
        if https:
            assert wait_until(lambda: farm.ipvs_weight(dead["name"], https=True) is None, timeout=30), farm.ipvs_table()
        time.sleep(max(0.0, left + AFTER_LEFT - time.time()))
        load.send_signal(signal.SIGTERM)
        out, _ = load.communicate(timeout=60)
    finally:
        apache.run_test("systemctl start apache2")
        if load.poll() is None:
            load.kill()
    result, started = LoadResult.from_json(out)
    stop_at, left_at = stopped - started, left - started
    figures = (
        f"{result.summary()}; Apache stopped at {stop_at:.2f} s, {dead['name']} out of the table by {left_at:.2f} s; "
        f"failed after that: {len(result.failures_between(left_at + CLIENT_TIMEOUT))}"
    )
    print(figures)
    assert result.succeeded_after(left_at + CLIENT_TIMEOUT) > 0, figures
    # before the stop nothing failed; after the checker acted (and the client's timeout) nothing failed
    assert result.failures_between(0, stop_at) == [], figures
    assert result.failures_between(left_at + CLIENT_TIMEOUT) == [], figures
    back = wait_until(lambda: farm.ipvs_weight(dead["name"]) == dead["weight"], timeout=30)
    assert back, f"{dead['name']} not back with its weight: {farm.ipvs_table()}"
    if https:
        back = wait_until(lambda: farm.ipvs_weight(dead["name"], https=True) == dead["weight"], timeout=30)
        assert back, f"{dead['name']} not back in the HTTPS service with its weight: {farm.ipvs_table()}"
