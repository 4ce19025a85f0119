"""What masquerading asks of the real servers on other hosts, done while IPVS runs and undone after a swap."""

testinfra_hosts = ["backends"]


def test_replies_to_the_lab_client_go_through_the_director(host, farm) -> None:
    client = farm.lab_client["address"].split("/")[0]
    director = farm.hostvars[farm.balancer_host]["lab_address"]
    route = host.check_output(f"ip route get {client}")
    unit = host.service("lbfarm-ipvs-realserver")
    if farm.balancer == "ipvs":
        assert f"via {director}" in route, route
        assert unit.is_running
        assert unit.is_enabled
    else:
        assert "via" not in route, route
        assert not host.file("/etc/systemd/system/lbfarm-ipvs-realserver.service").exists
