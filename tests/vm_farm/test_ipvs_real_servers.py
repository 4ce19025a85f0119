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


def test_apache_ends_the_https_that_ipvs_passes_through_and_only_then(host, farm) -> None:
    """With IPVS passing HTTPS through, Apache serves it on the backend's https_port with the farm's
    certificate (mod_ssl on, the key readable by root only); after a swap to a balancer that ends
    TLS itself, Apache serves no HTTPS and keeps no copy of the key."""
    backend = next(b for b in farm.backends if b["name"] == host.backend.get_hostname())
    listening = host.socket(f"tcp://0.0.0.0:{backend['https_port']}").is_listening
    if farm.balancer == "ipvs" and farm.setting("https"):
        assert listening
        key = host.file("/etc/apache2/lbfarm/farm.key")
        assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
        assert host.file("/etc/apache2/mods-enabled/ssl.load").is_symlink
    else:
        assert not listening
        assert not host.file("/etc/apache2/lbfarm").exists
        assert not host.file("/etc/apache2/mods-enabled/ssl.load").exists
