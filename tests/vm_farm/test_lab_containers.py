"""The lab's containers on a cgroup-v2 host, as every current Debian, Ubuntu and Fedora host is.

make lab runs the farm in systemd containers with the options of .config/molecule/config.yml
(the first platform). This machine mounts cgroup v1, so a Debian 13 VM of the harness, which boots
with cgroup v2 only, plays the host: its image carries a Docker engine (not started) and the lab's
base image of its release (molecule/resources/vm/image.yml). One container is started there with
exactly those options, and must boot systemd as make lab waits for it, and give the benchmark's
reader (roles/benchmark/files/counters.sh, run as the benchmark runs it) a unit's CPU from cgroup v2.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

testinfra_hosts = ["m2"]
REPO = Path(__file__).resolve().parents[2]
COUNTERS = REPO / "roles/benchmark/files/counters.sh"
ARCHIVE = "/var/lib/lbfarm/lab-base.tar"
NAME = "lbfarm-cgroup-v2"
# The platform keys this test turns into docker run options, and those that do not concern one
# container (its name, image, network and groups); any other key fails the test, not silently.
OPTIONS = {"command", "stop_signal", "capabilities", "security_opts", "cgroupns_mode", "volumes", "tmpfs"}
OTHER = {"name", "image", "pre_build_image", "docker_networks", "networks", "groups"}


def lab_platform() -> dict:
    """The lab's container options: the first platform of the Molecule base config (playbooks/lab.yml reads it too)."""
    return yaml.safe_load((REPO / ".config/molecule/config.yml").read_text())["platforms"][0]


def docker_run(platform: dict, image: str) -> list[str]:
    """docker run with the platform's options, as Molecule's docker driver and playbooks/lab.yml pass them."""
    unknown = sorted(set(platform) - OPTIONS - OTHER)
    assert not unknown, f"the lab's container options gained {unknown}: teach this test to pass them"
    argv = ["docker", "run", "--detach", "--name", NAME, "--stop-signal", platform["stop_signal"]]
    argv += ["--cgroupns", platform["cgroupns_mode"]]
    argv += [f"--cap-add={cap}" for cap in platform["capabilities"]]
    argv += [f"--security-opt={opt}" for opt in platform["security_opts"]]
    argv += [f"--volume={volume}" for volume in platform["volumes"]]
    argv += [f"--tmpfs={path}" for path in platform["tmpfs"]]
    return [*argv, image, platform["command"]]


def run(host, argv: list[str], timeout: int = 300) -> str:
    done = host.run(f"timeout {timeout} {shlex.join(argv)}")
    assert done.rc == 0, f"{shlex.join(argv)} (rc {done.rc}): {done.stdout}{done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def container(host, farm) -> dict:
    """The lab's container started on the VM; its state once systemd has booted (make lab's own wait)."""
    if farm.swapped:
        pytest.skip("checked once, in the verify before the swap: the VM and the lab's options are the same")
    if host.check_output("stat -fc %T /sys/fs/cgroup") != "cgroup2fs":
        pytest.skip("this VM mounts cgroup v1 (make test runs the VM scenarios on Debian 13, which mounts v2 only)")
    release = host.check_output(". /etc/os-release && echo $VERSION_CODENAME")
    run(host, ["systemctl", "start", "docker.service"])
    run(host, ["docker", "load", "--input", ARCHIVE])
    host.run(f"docker rm --force {NAME}")
    run(host, docker_run(lab_platform(), f"lbfarm/base:{release}"))
    # as playbooks/lab.yml waits: running or degraded, and the bus may not answer at first
    state = ""
    for _ in range(60):
        state = host.run(f"docker exec {NAME} systemctl is-system-running --wait").stdout.strip()
        if state in ("running", "degraded"):
            break
        host.run("sleep 2")
    failed = host.run(f"docker exec {NAME} systemctl --failed --no-legend").stdout
    yield {"name": NAME, "state": state, "failed": failed}
    host.run(f"docker rm --force {NAME}")
    host.run("systemctl stop docker.service docker.socket containerd.service")
    host.run("ip link delete docker0")  # the engine touches nothing else of the VM (daemon.json)


def test_the_container_s_systemd_boots_as_make_lab_waits_for_it(host, container) -> None:
    assert container["state"] in ("running", "degraded"), container
    assert host.check_output(f"docker exec {container['name']} stat -fc %T /sys/fs/cgroup") == "cgroup2fs"


def test_the_benchmark_reads_a_unit_s_cpu_in_the_container_from_cgroup_v2(host, container) -> None:
    command = ["docker", "exec", "--env", "UNIT=systemd-journald", container["name"], "sh", "-c", COUNTERS.read_text()]
    said = run(host, command)
    unit = next(line.split()[3] for line in said.splitlines() if line.startswith("== unit "))
    assert unit.endswith("/system.slice/systemd-journald.service"), said
    assert f"== cgroup2 /sys/fs/cgroup{unit}/cpu.stat" in said, said
    assert "== cgroup1" not in said, said
    usage = next(line.split()[1] for line in said.splitlines() if line.startswith("usage_usec "))
    assert int(usage) > 0, said
