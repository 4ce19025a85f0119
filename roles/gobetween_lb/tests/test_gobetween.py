"""gobetween on the balancer host: unprivileged service, checked configuration, the REST API, restarts."""

import tomllib

from farmcheck import fetch, wait_until

testinfra_hosts = ["balancers"]


def test_runs_as_an_unprivileged_user_allowed_to_bind_port_80(host) -> None:
    assert host.user("gobetween").exists
    unit = host.file("/etc/systemd/system/gobetween.service").content_string
    assert "User=gobetween" in unit
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in unit


def test_configuration_is_readable_only_by_root_and_gobetween(host) -> None:
    config = host.file("/etc/gobetween.toml")
    assert (config.user, config.group, config.mode) == ("root", "gobetween", 0o640)


def test_static_list_follows_the_backends(host, farm) -> None:
    config = tomllib.loads(host.file("/etc/gobetween.toml").content_string)
    entries = config["servers"]["farm"]["discovery"]["static_list"]
    assert entries == [f"{b['address']}:{b['port']} weight={b['weight']} priority=1" for b in farm.backends]
    assert config["servers"]["farm"]["balance"] == "weight"


def test_process_runs_as_gobetween(host, farm) -> None:
    farm.require_running_balancer()
    assert {p.user for p in host.process.filter(comm="gobetween")} == {"gobetween"}


def test_api_wants_its_password(host, farm) -> None:
    farm.require_running_balancer()
    api = farm.endpoints["api"]
    assert host.run(f"curl -s -o /dev/null -w '%{{http_code}}' {api['url']}servers").stdout == "401"
    password = farm.secret("gobetween_api_password")
    reply = host.run(f"curl -s -u {api['user']}:{password} {api['url']}servers")
    assert '"farm"' in reply.stdout


def test_api_is_not_reachable_from_outside(farm) -> None:
    farm.require_running_balancer()
    port = farm.endpoints["api"]["url"].rstrip("/").rsplit(":", 1)[1]
    assert fetch(f"http://{farm.hostvars[farm.balancer_host]['lab_address']}:{port}/servers").status == 0


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
