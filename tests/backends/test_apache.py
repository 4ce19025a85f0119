"""Each Apache backend, checked on the host and from this machine."""

import re
from pathlib import Path

import yaml
from farmcheck import fetch, keep_alive_holds

REPO = Path(__file__).resolve().parents[2]

testinfra_hosts = ["backends"]


def _backend(farm, host) -> dict:
    return next(b for b in farm.backends if b["name"] == host.backend.host)


def test_apache_is_running_and_enabled(host) -> None:
    apache = host.service("apache2")
    assert apache.is_running
    assert apache.is_enabled


def test_apache_listens_on_the_backend_port(host, farm) -> None:
    assert host.socket(f"tcp://0.0.0.0:{_backend(farm, host)['port']}").is_listening


def test_no_stats_port_on_a_backend(host, farm) -> None:
    assert not host.socket(f"tcp://0.0.0.0:{farm.haproxy_stats_port}").is_listening


def test_home_page_names_the_backend(host, farm) -> None:
    b = _backend(farm, host)
    reply = fetch(f"http://{b['address']}:{b['port']}/")
    assert reply.status == 200
    assert f"MAQUINA {b['name'].upper()}" in reply.body
    assert reply.headers.get("X-Backend") == b["name"]


def test_benchmark_page_is_served_over_keep_alive(host, farm) -> None:
    b = _backend(farm, host)
    assert fetch(f"http://{b['address']}:{b['port']}/swap.html").status == 200
    assert keep_alive_holds(b["address"], b["port"], "/swap.html")


def test_apache_configuration_passes_configtest(host) -> None:
    assert host.run("apache2ctl configtest").rc == 0


def _setting(host, name: str):
    """The host's value of an apache_backend variable: its inventory's, else the role's default."""
    defaults = yaml.safe_load((REPO / "roles/apache_backend/defaults/main.yml").read_text())
    return host.ansible.get_variables().get(name, defaults[name])


def test_apache_runs_the_chosen_mpm_only(host) -> None:
    chosen = _setting(host, "apache_backend_mpm")
    modules = host.run("apache2ctl -M").stdout
    assert re.findall(r"^ (mpm_\w+_module)", modules, re.MULTILINE) == [f"mpm_{chosen}_module"]


def test_apache_maps_files_only_when_asked(host) -> None:
    wanted = _setting(host, "apache_backend_enable_mmap")
    conf = host.file("/etc/apache2/conf-enabled/lbfarm.conf").content_string
    assert re.findall(r"^EnableMMAP (\w+)$", conf, re.MULTILINE) == ["On" if wanted else "Off"]
