"""gobetween on the balancer host: unprivileged service, checked configuration, the REST API."""

import tomllib

import pytest
from farmcheck import fetch

testinfra_hosts = ["balancers"]


@pytest.fixture(autouse=True)
def _gobetween(farm) -> None:
    if farm.balancer != "gobetween":
        pytest.skip(f"this farm runs {farm.balancer}, not gobetween")


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
    assert host.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8888/servers").stdout == "401"
    password = farm.secret("gobetween_api_password")
    reply = host.run(f"curl -s -u admin:{password} http://127.0.0.1:8888/servers")
    assert '"farm"' in reply.stdout


def test_api_is_not_reachable_from_outside(farm) -> None:
    farm.require_running_balancer()
    assert fetch(f"http://{farm.hostvars[farm.balancer_host]['lab_address']}:8888/servers").status == 0
