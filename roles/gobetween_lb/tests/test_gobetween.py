"""gobetween on the balancer host: unprivileged service, checked configuration, HTTPS ended by gobetween
itself (its certificate's files), the REST API over TLS, restarts."""

import shlex
import tomllib
import urllib.parse

import pytest
from farmcheck import fetch, wait_until

testinfra_hosts = ["balancers"]
# where roles/gobetween_lb writes the farm's certificate (vars/main.yml), as the contract's files list them
CRT, KEY = "/etc/gobetween/farm.crt", "/etc/gobetween/farm.key"


def config(host) -> dict:
    return tomllib.loads(host.file("/etc/gobetween.toml").content_string)


def api_curl(host, farm, args: str) -> str:
    """curl on the balancer host to gobetween's API: over TLS (gobetween_lb_https), verified against the lab CA,
    whose certificate names the balancer host (roles/tls), with that name resolved to the API's address."""
    api = urllib.parse.urlsplit(farm.endpoints["api"]["url"])
    if api.scheme == "http":
        return f"curl -s {args} {api.geturl()}"
    ca = "/tmp/lbfarm-test-ca.crt"
    host.run_test(f"printf '%s' {shlex.quote(farm.ca_file.read_text())} > {ca}")
    name = farm.balancer_host
    return f"curl -s --cacert {ca} --resolve {name}:{api.port}:{api.hostname} {args} https://{name}:{api.port}/"


def test_runs_as_an_unprivileged_user_allowed_to_bind_port_80(host) -> None:
    assert host.user("gobetween").exists
    unit = host.file("/etc/systemd/system/gobetween.service").content_string
    assert "User=gobetween" in unit
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in unit


def test_configuration_is_readable_only_by_root_and_gobetween(host) -> None:
    config = host.file("/etc/gobetween.toml")
    assert (config.user, config.group, config.mode) == ("root", "gobetween", 0o640)


def test_static_list_follows_the_backends(host, farm) -> None:
    servers = config(host)["servers"]
    entries = servers["farm"]["discovery"]["static_list"]
    assert entries == [f"{b['address']}:{b['port']} weight={b['weight']} priority=1" for b in farm.backends]
    assert servers["farm"]["balance"] == "weight"


def test_https_server_ends_tls_for_the_same_backends(host, farm) -> None:
    https = farm.endpoints["https_url"]
    if not https:
        pytest.skip("gobetween_lb_https is off in this inventory")
    servers = config(host)["servers"]
    tls = servers["farm_tls"]
    assert tls["protocol"] == "tls"
    assert tls["bind"].endswith(f":{urllib.parse.urlsplit(https).port}")
    assert (tls["tls"]["cert_path"], tls["tls"]["key_path"]) == (CRT, KEY)
    assert (tls["tls"]["min_version"], tls["tls"]["max_version"]) == ("tls1.2", "tls1.3")
    assert tls["tls"]["session_tickets"] is False
    assert tls["tls"]["ciphers"]  # Mozilla's intermediate TLS 1.2 ciphers that gobetween knows: ECDHE ones
    assert all(c.startswith("TLS_ECDHE_") for c in tls["tls"]["ciphers"])
    assert tls["discovery"] == servers["farm"]["discovery"]
    assert tls.get("healthcheck") == servers["farm"].get("healthcheck")
    assert tls["balance"] == servers["farm"]["balance"]


def test_certificate_files_are_root_s_and_the_key_readable_by_gobetween_only(host, farm) -> None:
    if not farm.endpoints["https_url"]:
        pytest.skip("gobetween_lb_https is off in this inventory")
    folder, crt, key = host.file(CRT.rsplit("/", 1)[0]), host.file(CRT), host.file(KEY)
    assert (folder.user, folder.group, folder.mode) == ("root", "gobetween", 0o750)
    assert (crt.user, crt.group, crt.mode) == ("root", "gobetween", 0o644)
    assert (key.user, key.group, key.mode) == ("root", "gobetween", 0o640)
    assert crt.content_string.startswith("-----BEGIN CERTIFICATE-----")
    # runuser -u runs the command itself, without the user's shell (gobetween's is nologin)
    assert host.run(f"runuser -u gobetween -- test -r {KEY}").rc == 0
    assert host.run(f"runuser -u nobody -- test -r {KEY}").rc != 0


def test_api_is_behind_tls_while_the_farm_serves_https(host, farm) -> None:
    api = config(host)["api"]
    if not farm.endpoints["https_url"]:
        assert "tls" not in api
        return
    assert api["tls"] == {"cert_path": CRT, "key_path": KEY}
    assert farm.endpoints["api"]["url"].startswith("https://")


def test_process_runs_as_gobetween(host, farm) -> None:
    farm.require_running_balancer()
    assert {p.user for p in host.process.filter(comm="gobetween")} == {"gobetween"}


def test_api_wants_its_password(host, farm) -> None:
    farm.require_running_balancer()
    api = farm.endpoints["api"]
    assert host.run(api_curl(host, farm, "-o /dev/null -w '%{http_code}'") + "servers").stdout == "401"
    password = farm.secret("gobetween_api_password")
    reply = host.run(api_curl(host, farm, f"-u {api['user']}:{shlex.quote(password)}") + "servers")
    assert '"farm"' in reply.stdout
    if farm.endpoints["https_url"]:
        assert '"farm_tls"' in reply.stdout


def test_api_over_tls_answers_nothing_in_clear(host, farm) -> None:
    farm.require_running_balancer()
    api = urllib.parse.urlsplit(farm.endpoints["api"]["url"])
    if api.scheme != "https":
        pytest.skip("gobetween_lb_https is off: the API is plain HTTP")
    # Go's net/http on a TLS listener answers a plain request 400 ("Client sent an HTTP request to an HTTPS server")
    plain = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' http://{api.netloc}/servers").stdout
    assert plain == "400"


def test_api_is_not_reachable_from_outside(farm) -> None:
    farm.require_running_balancer()
    api = urllib.parse.urlsplit(farm.endpoints["api"]["url"])
    outside = f"{api.scheme}://{farm.hostvars[farm.balancer_host]['lab_address']}:{api.port}/servers"
    assert fetch(outside).status == 0


def test_unit_restarts_gobetween_and_never_gives_up(host) -> None:
    # gobetween 0.8.x may panic at start-up (its metrics are not ready for the first health check): systemd
    # must start it again, for as long as it takes
    shown = host.check_output("systemctl show -p Restart -p RestartUSec -p StartLimitIntervalUSec gobetween")
    assert set(shown.split()) == {"Restart=always", "RestartUSec=1s", "StartLimitIntervalUSec=0"}


def test_restarted_with_a_backend_down_it_serves_from_the_other_and_takes_it_back(host, farm) -> None:
    farm.require_running_balancer()
    dead = farm.backends[0]["name"]
    alive = set(farm.shares) - {dead}
    apache = farm.host(dead)
    apache.run_test("systemctl stop apache2")
    try:
        host.run_test("systemctl restart gobetween")
        # L4, no retry: until the probe has failed `fails` times, a request sent to the dead backend fails
        assert wait_until(lambda: set(farm.count(10)) <= alive, timeout=30), f"{dead} is still picked"
        assert host.service("gobetween").is_running
        seen = farm.count(100)
        assert sum(seen[name] for name in alive) == 100, f"with {dead} stopped: {seen}"
    finally:
        apache.run_test("systemctl start apache2")
    assert wait_until(lambda: dead in farm.count(10), timeout=30), f"{dead} got no traffic back"
