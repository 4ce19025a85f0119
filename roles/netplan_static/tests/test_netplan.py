"""netplan gave the lab NIC its static address; the management NIC kept its own configuration."""

testinfra_hosts = ["balancers"]


def test_lab_nic_has_its_static_address(host) -> None:
    # eth1 is the lab NIC (matched by MAC), eth0 the management NIC
    assert "192.168.56.4/24" in host.check_output("ip -br addr show dev eth1")


def test_netplan_file_is_private_and_checked(host) -> None:
    lab = host.file("/etc/netplan/60-lbfarm-lab.yaml")
    assert lab.mode == 0o600
    assert 'macaddress: "52:54:00:56:01:04"' in lab.content_string
    assert host.run("netplan generate").rc == 0


def test_management_nic_is_left_alone(host) -> None:
    assert "dhcp4: true" in host.file("/etc/netplan/00-lbfarm-mgmt.yaml").content_string
    assert "10.0.2.15/24" in host.check_output("ip -br addr show dev eth0")
