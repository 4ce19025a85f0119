"""The canary's copies of a new configuration (roles/balancer/tasks/canary.yml): each balancer's own
template, rendered with lbfarm_canary_port, listens on that port and on nothing the live instance
holds (port 80, the stats page, the runtime API socket, gobetween's API and metrics, nginx's pid
file), so that the second instance never serves beside the live one or takes its socket."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jinja2
import modules
import pytest
import yaml

from filter_plugins import farm
from lookup_plugins import balancers

gobetween = modules.load("roles/gobetween_lb/filter_plugins/gobetween_lb.py")

REPO = Path(__file__).parents[2]
CONTRACT = balancers.contract()
BALANCER_DEFAULTS = yaml.safe_load((REPO / "roles/balancer/defaults/main.yml").read_text())
CANARY = BALANCER_DEFAULTS["balancer_canary_port"]
LAB = {"m1": {"lab_address": "172.30.56.2", "backend_weight": 2}, "m2": {"lab_address": "172.30.56.3"}}
SERVERS = ["m1 172.30.56.2:80 weight 2 check", "m2 172.30.56.3:80 weight 1 check"]
# the farm's certificate as roles/balancer publishes it (balancer_tls), without a real key
TLS = {"pem": "", "key": "", "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256", "ciphersuites": "TLS_AES_128_GCM_SHA256"}
TLS |= {"curves": "X25519"}
# what each role's vars/main.yml would give the template, as the lab has it
EXTRA = {
    "haproxy": {
        "_haproxy_lb_tls": TLS,
        "_haproxy_lb_crt": "/etc/haproxy/certs/farm.pem",
        "_haproxy_lb_servers": SERVERS,
        "_haproxy_lb_2_6": True,
        "_haproxy_lb_state_file": "/var/lib/haproxy/server-state",
        "haproxy_lb_stats_password": "not-a-real-one",
        "_haproxy_lb_metrics": True,
    },
    "nginx": {
        "_nginx_lb_servers": ["172.30.56.2:80 weight=2", "172.30.56.3:80"],
        "_nginx_lb_tls": TLS,
        "_nginx_lb_crt": "/etc/nginx/lbfarm/farm.crt",
        "_nginx_lb_key": "/etc/nginx/lbfarm/farm.key",
        "_nginx_lb_http2_directive": True,
        "_nginx_lb_ssl_conf_command": True,
        "_nginx_lb_metrics": True,
    },
    "gobetween": {
        "gobetween_lb_api_password": "not-a-real-one",
        "_gobetween_lb_tls": TLS,
        "_gobetween_lb_crt": "/etc/gobetween/farm.crt",
        "_gobetween_lb_key": "/etc/gobetween/farm.key",
        "_gobetween_lb_static_list": gobetween.gobetween_lb_static_list(farm.farm_backends(list(LAB), LAB)),
    },
}
TEMPLATES = {"haproxy": "haproxy.cfg.j2", "nginx": "nginx.conf.j2", "gobetween": "gobetween.toml.j2"}


def render(balancer: str, **overrides) -> str:
    role = REPO / "roles" / f"{balancer}_lb"
    variables = {
        **yaml.safe_load((role / "defaults/main.yml").read_text()),
        "ansible_managed": "Ansible managed",
        **EXTRA[balancer],
        **overrides,
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)
    env.filters.update(
        bool=bool,
        to_json=json.dumps,
        gobetween_go_string=gobetween.gobetween_go_string,
        gobetween_toml_string=gobetween.gobetween_toml_string,
        gobetween_lb_tls_ciphers=gobetween.gobetween_lb_tls_ciphers,
    )
    return env.from_string((role / "templates" / TEMPLATES[balancer]).read_text()).render(variables)


def test_every_balancer_with_a_canary_writes_its_copy() -> None:
    canaries = {name: adapter["canary"] for name, adapter in CONTRACT.items() if adapter["canary"]}
    assert set(canaries) == set(TEMPLATES)
    for balancer, canary in canaries.items():
        assert (REPO / "roles" / f"{balancer}_lb/tasks/canary.yml").is_file()
        assert balancers.CANARY_FILE in canary["argv"]


def test_the_side_port_is_none_of_the_live_ones() -> None:
    def port(bind: str) -> int:
        return int(bind.rsplit(":", 1)[1])

    haproxy = yaml.safe_load((REPO / "roles/haproxy_lb/defaults/main.yml").read_text())
    gobetween = yaml.safe_load((REPO / "roles/gobetween_lb/defaults/main.yml").read_text())
    live = {80, 443, haproxy["haproxy_lb_stats_port"], port(gobetween["gobetween_lb_api_bind"])}
    live.add(port(gobetween["gobetween_lb_metrics_bind"]))
    assert CANARY not in live


def test_haproxy_canary_binds_the_side_port_alone_without_socket_or_stats() -> None:
    live, canary = render("haproxy"), render("haproxy", lbfarm_canary_port=CANARY)
    crt = "ssl crt /etc/haproxy/certs/farm.pem alpn h2,http/1.1"
    assert re.findall(r"^\s*bind (.*)$", live, re.M) == ["*:80", f"*:443 {crt}", f"*:9999 {crt}"]
    assert "stats socket /run/haproxy/admin.sock" in live
    assert "server-state-file" in live
    assert "load-server-state-from-file global" in live
    assert re.findall(r"^\s*bind (.*)$", canary, re.M) == [f"*:{CANARY}"]
    assert "stats socket" not in canary
    assert "listen stats" not in canary
    assert "server-state" not in canary  # it judges the backends afresh
    assert "not-a-real-one" not in canary

    # the farm itself is the same: servers, checks, balance
    def servers(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("    server ")]

    assert servers(canary) == servers(live)
    assert len(servers(live)) == 2


def test_haproxy_canary_reads_the_version_as_the_live_configuration_does() -> None:
    # idle-close-on-response depends on the version read by tasks/version.yml: a canary that did not
    # read it wrote another haproxy.cfg on each run of a pair (molecule/pair's idempotence failed)
    role = REPO / "roles/haproxy_lb/tasks"
    assert "version.yml" in (role / "canary.yml").read_text()
    assert "version.yml" in (role / "configure.yml").read_text()


def test_nginx_canary_listens_on_the_side_port_with_its_own_pid_file() -> None:
    live, canary = render("nginx"), render("nginx", lbfarm_canary_port=CANARY)
    status = yaml.safe_load((REPO / "roles/nginx_lb/defaults/main.yml").read_text())["nginx_lb_status_port"]
    # the live one reads its counters on loopback (stub_status, for its exporter); the canary does not
    assert re.findall(r"^\s*listen (\S+)", live, re.M) == ["80", "443", f"127.0.0.1:{status};"]
    assert re.findall(r"^\s*listen (\S+)", canary, re.M) == [str(CANARY)]
    assert "pid /run/nginx.pid;" in live
    assert "pid /run/nginx.pid;" not in canary
    assert "error_log stderr;" in canary
    assert "lbfarm_access.log" not in canary


def test_gobetween_canary_binds_the_side_port_without_api_metrics_or_https() -> None:
    live, canary = tomllib.loads(render("gobetween")), tomllib.loads(render("gobetween", lbfarm_canary_port=CANARY))
    assert live["servers"]["farm"]["bind"] == "0.0.0.0:80"
    assert live["servers"]["farm_tls"]["bind"] == "0.0.0.0:443"
    assert canary["servers"]["farm"]["bind"] == f"0.0.0.0:{CANARY}"
    # gobetween binds without SO_REUSEPORT: a canary on 443 could not start beside the live one
    assert list(canary["servers"]) == ["farm"]
    live_on = render("gobetween", gobetween_lb_api=True, gobetween_lb_metrics=True)
    canary_on = tomllib.loads(
        render("gobetween", gobetween_lb_api=True, gobetween_lb_metrics=True, lbfarm_canary_port=CANARY)
    )
    assert tomllib.loads(live_on)["api"]["enabled"]
    assert tomllib.loads(live_on)["metrics"]["enabled"]
    assert not canary_on["api"]["enabled"]
    assert not canary_on["metrics"]["enabled"]
    assert "basic_auth" not in canary_on["api"]
    assert not canary["api"]["enabled"]
    assert not canary["metrics"]["enabled"]
    assert "basic_auth" not in canary["api"]
    assert "tls" not in canary_on["api"]
    assert canary["servers"]["farm"]["discovery"] == live["servers"]["farm"]["discovery"]


@pytest.mark.parametrize("balancer", sorted(TEMPLATES))
def test_the_live_configuration_never_names_the_side_port(balancer: str) -> None:
    assert str(CANARY) not in render(balancer)
