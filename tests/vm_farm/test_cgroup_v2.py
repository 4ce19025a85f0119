"""Debian 13 boots with cgroup v2 only, as every current Debian, Ubuntu and Fedora host does: the
benchmark's reader (roles/benchmark/files/counters.sh) finds each unit's CPU there, not in v1."""

from pathlib import Path

import pytest

testinfra_hosts = ["backends"]
COUNTERS = Path(__file__).parents[2] / "roles/benchmark/files/counters.sh"


def test_debian_13_mounts_cgroup_v2_only(host) -> None:
    if not host.file("/etc/debian_version").content_string.startswith("13"):
        pytest.skip("a VM of Debian 12 (make test runs the VM scenarios on Debian 13)")
    assert host.check_output("stat -fc %T /sys/fs/cgroup") == "cgroup2fs"


def test_the_benchmark_reads_apache_cpu_from_cgroup_v2(host) -> None:
    said = host.check_output("UNIT=apache2 sh -c %s", COUNTERS.read_text())
    assert "== cgroup2 /sys/fs/cgroup/system.slice/apache2.service/cpu.stat" in said, said
    assert "== cgroup1" not in said, said
    usage = next(line.split()[1] for line in said.splitlines() if line.startswith("usage_usec "))
    assert int(usage) > 0, said
