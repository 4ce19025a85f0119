"""netplan gave each VM its static lab address on the lab NIC; the hosts and the lab client reach each other.

Molecule runs these twice, the second time after the swap to HAProxy (ipvs_single reboots its VM).
"""

import subprocess

import pytest

testinfra_hosts = ["all"]


def _lab_nic(host, mac: str) -> str:
    for line in host.check_output("ip -br link").splitlines():
        name, _, address, *_ = line.split()
        if address == mac:
            return name
    pytest.fail(f"no NIC with the lab MAC {mac}")


def test_lab_nic_has_its_static_address(host, farm) -> None:
    vars_ = farm.hostvars[host.backend.host]
    nic = _lab_nic(host, vars_["netplan_static_macaddress"])
    assert f"{vars_['lab_address']}/24" in host.check_output(f"ip -br addr show dev {nic}")


def test_netplan_file_is_private_and_checked(host, farm) -> None:
    if farm.swapped:
        pytest.skip("checked once, in the verify before the swap, which leaves netplan alone")
    assert host.file("/etc/netplan/60-lbfarm-lab.yaml").mode == 0o600
    assert host.run("netplan generate").rc == 0


def test_management_nic_is_left_alone(host) -> None:
    assert "dhcp4: true" in host.file("/etc/netplan/00-lbfarm-mgmt.yaml").content_string


def test_each_host_pings_the_others_on_the_lab_segment(host, farm) -> None:
    for other, vars_ in farm.hostvars.items():
        if other != host.backend.host:
            assert host.run(f"ping -c 1 -W 3 {vars_['lab_address']}").rc == 0, f"{host.backend.host} -> {other}"


def test_lab_client_reaches_the_host(host, farm) -> None:
    address = farm.hostvars[host.backend.host]["lab_address"]
    ping = ["ip", "netns", "exec", farm.lab_client["netns"], "ping", "-c", "1", "-W", "3", address]
    assert subprocess.run(ping, capture_output=True).returncode == 0, f"lab client -> {address}"
