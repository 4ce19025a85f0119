"""A balancer that comes back: killed (kill -9, its main process or a worker) under load, or its
container restarted, the same balancer answers again; systemd does it (Restart=)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from contract import UNITS
from farmcheck import Load, wait_for_answer, wait_until

# how long the farm may take to answer again; the time it took is what is reported
RECOVERY_LIMIT = 30


def main_pid(host, unit: str) -> int:
    return int(host.check_output(f"systemctl show -p MainPID --value {unit}"))


@pytest.mark.parametrize("victim", ["main", "worker"])
def test_killed_balancer_answers_again(farm, report, victim: str) -> None:
    if farm.balancer not in ("nginx", "haproxy"):
        pytest.skip(f"kill -9 is tested for nginx and HAProxy, not {farm.balancer}")
    host = farm.host(farm.balancer_host)
    unit = UNITS[farm.balancer]
    before = main_pid(host, unit)
    # a worker is a child of the main process (nginx's master, HAProxy's master)
    worker = f"pgrep -P {before} {farm.balancer} | head -1"
    pid = before if victim == "main" else int(host.check_output(worker))
    with Load(farm.url, clients=8, seconds=120) as load:
        wait_until(lambda: load.ok > 50, 10)
        host.run(f"kill -9 {pid}")
        recovered = wait_for_answer(farm.url, RECOVERY_LIMIT)
    assert recovered is not None, f"{farm.balancer} did not answer {RECOVERY_LIMIT} s after kill -9 of its {victim}"
    assert wait_until(lambda: host.service(unit).is_running, 10)
    report(f"kill -9 of {farm.balancer}'s {victim} process", f"answers again after {recovered:.2f} s; {load.summary()}")


def test_restarted_balancer_container_answers_again(farm, report) -> None:
    if farm.balancer != "haproxy" or not shutil.which("docker"):
        pytest.skip("tested once, with HAProxy (molecule/default), where docker runs the containers")
    subprocess.run(["docker", "restart", "--time", "10", farm.balancer_host], check=True, capture_output=True)
    recovered = wait_for_answer(farm.url, 60)
    assert recovered is not None, "the farm did not answer 60 s after docker restart of the balancer's container"
    host = farm.host(farm.balancer_host)
    assert host.file("/etc/lbfarm-balancer").content_string.strip() == farm.balancer
    assert host.service(UNITS[farm.balancer]).is_running
    report(
        "docker restart of the balancer's container",
        f"{farm.balancer} answers {recovered:.1f} s after the restart returned",
    )
