"""IPVS's rules and keepalived's checker (filter_plugins/ipvs_lb.py): every line they write, every error, and
keepalived's own check of what they write."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import modules
import pytest
from ansible.errors import AnsibleFilterError
from lab_backends import backends

from filter_plugins import farm

ipvs = modules.load("roles/ipvs_lb/filter_plugins/ipvs_lb.py")


def test_ipvs_rules_of_the_lab() -> None:
    assert ipvs.ipvs_lb_rules(backends(), "192.168.100.1") == [
        "-A -t 192.168.100.1:80 -s rr",
        "-a -t 192.168.100.1:80 -r 192.168.56.2:80 -m -w 3",
        "-a -t 192.168.100.1:80 -r 192.168.56.3:80 -m -w 1",
    ]


def test_ipvs_single_host_lab_and_direct_routing() -> None:
    hv = {
        "m1": {"backend_address": "127.0.0.1", "backend_port": 8081},
        "m2": {"backend_address": "127.0.0.1", "backend_port": 8082},
    }
    assert ipvs.ipvs_lb_rules(farm.farm_backends(["m1", "m2"], hv), "192.168.100.1", 80, "wrr")[1:] == [
        "-a -t 192.168.100.1:80 -r 127.0.0.1:8081 -m -w 1",
        "-a -t 192.168.100.1:80 -r 127.0.0.1:8082 -m -w 1",
    ]
    assert (
        ipvs.ipvs_lb_rules(backends(), "10.0.0.1", method="route")[1] == "-a -t 10.0.0.1:80 -r 192.168.56.2:80 -g -w 3"
    )


def test_ipvs_passes_https_through_to_each_backends_own_tls() -> None:
    assert ipvs.ipvs_lb_rules(backends(m2={"backend_https_port": 8443}), "192.168.100.1", https_port=443) == [
        "-A -t 192.168.100.1:80 -s rr",
        "-a -t 192.168.100.1:80 -r 192.168.56.2:80 -m -w 3",
        "-a -t 192.168.100.1:80 -r 192.168.56.3:80 -m -w 1",
        "-A -t 192.168.100.1:443 -s rr",
        "-a -t 192.168.100.1:443 -r 192.168.56.2:443 -m -w 3",
        "-a -t 192.168.100.1:443 -r 192.168.56.3:8443 -m -w 1",
    ]
    # a backend's state holds in both services
    assert ipvs.ipvs_lb_rules(backends(m1={"backend_state": "drain"}), "10.0.0.1", 80, "wrr", "route", "443")[3:] == [
        "-A -t 10.0.0.1:443 -s wrr",
        "-a -t 10.0.0.1:443 -r 192.168.56.2:443 -g -w 0",
        "-a -t 10.0.0.1:443 -r 192.168.56.3:443 -g -w 1",
    ]


def test_ipvs_checks_https_real_servers_over_tls() -> None:
    blocks = "\n".join(ipvs.ipvs_lb_keepalived(backends(), "192.168.100.1", 80, "wrr", https_port=443))
    http, https = blocks.split("virtual_server")[1:]
    assert http.startswith(" 192.168.100.1 80 {")
    assert http.count("HTTP_GET {") == 2
    assert "SSL_GET" not in http
    assert https.startswith(" 192.168.100.1 443 {")
    assert https.count("SSL_GET {") == 2
    assert "HTTP_GET" not in https
    assert "real_server 192.168.56.2 443 {" in https
    assert https.count("path /") == 2
    assert https.count("status_code 200") == 2


@pytest.mark.parametrize(
    ("hostvars", "https_port", "message"),
    [
        ({}, 80, "ipvs_lb_https_port=80 is ipvs_lb_port's too"),
        ({}, "https", "ipvs_lb_https_port='https' is not an integer"),
        (  # the single-host lab: Apache cannot serve one port twice
            {"m1": {"backend_address": "127.0.0.1", "backend_port": 8081, "backend_https_port": 8082},
             "m2": {"backend_address": "127.0.0.1", "backend_port": 8082}},
            443, "backend m2: backend_port=8082 is already where m1 backend_https_port answers on 127.0.0.1",
        ),
        (
            {"m1": {"backend_address": "127.0.0.1", "backend_port": 8081},
             "m2": {"backend_address": "127.0.0.1", "backend_port": 8082}},
            443, "backend m2: backend_https_port=443 is already where m1 backend_https_port answers",
        ),
        ({"m1": {"backend_port": 443}}, 443, "backend m1: backend_https_port=443 is already where m1 backend_port"),
    ],
)  # fmt: skip
def test_ipvs_https_errors_name_the_backend_and_variable(hostvars: dict, https_port, message: str) -> None:
    hv = {"m1": {"lab_address": "192.168.56.2"}, "m2": {"lab_address": "192.168.56.3"}}
    for host, settings in hostvars.items():
        hv[host] = {**hv[host], **settings}
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        ipvs.ipvs_lb_rules(farm.farm_backends(["m1", "m2"], hv), "192.168.100.1", https_port=https_port)


def test_ipvs_direct_routing_wants_the_https_port_of_the_virtual_service() -> None:
    with pytest.raises(AnsibleFilterError, match="backend m1: backend_https_port=8443 must be the virtual port 443"):
        ipvs.ipvs_lb_rules(backends(m1={"backend_https_port": 8443}), "10.0.0.1", method="route", https_port=443)


@pytest.mark.parametrize(
    ("kwargs", "override", "message"),
    [
        ({"scheduler": "fastest"}, {}, "IPVS scheduler 'fastest' is unknown: use one of rr, wrr"),
        ({"method": "tunnel"}, {}, "IPVS method 'tunnel' is unknown"),
        ({}, {"backend_backup": True}, "backend m1: backend_backup=True has no equivalent in IPVS"),
        ({"method": "route"}, {"backend_port": 8080}, "backend m1: backend_port=8080 must be the virtual port 80"),
    ],
)
def test_ipvs_errors(kwargs: dict, override: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        ipvs.ipvs_lb_rules(backends(m1=override), "192.168.100.1", **kwargs)


def test_ipvs_keepalived_of_the_lab() -> None:
    check = ["HTTP_GET {", "url {", "path /", "status_code 200", "}", "connect_timeout 2", "retry 1"]
    check += ["delay_before_retry 1", "}"]
    lines = [line.strip() for line in ipvs.ipvs_lb_keepalived(backends(), "192.168.100.1", 80, "wrr")]
    assert lines == [
        "virtual_server 192.168.100.1 80 {",
        "delay_loop 2",
        "lb_algo wrr",
        "lb_kind NAT",
        "protocol TCP",
        *["real_server 192.168.56.2 80 {", "weight 3", *check, "}"],
        *["real_server 192.168.56.3 80 {", "weight 1", *check, "}"],
        "}",
    ]


def test_ipvs_keepalived_and_the_rules_list_the_same_real_servers() -> None:
    for states in ({}, {"m1": {"backend_state": "drain"}}, {"m2": {"backend_state": "maint"}}):
        b = backends(**states)
        rules = [(line.split()[4], line.split()[-1]) for line in ipvs.ipvs_lb_rules(b, "10.0.0.1")[1:]]
        words = [line.split() for line in ipvs.ipvs_lb_keepalived(b, "10.0.0.1")]
        servers = [f"{w[1]}:{w[2]}" for w in words if w[0] == "real_server"]
        weights = [w[1] for w in words if w[0] == "weight"]
        assert list(zip(servers, weights, strict=True)) == rules, states


def test_ipvs_keepalived_settings_and_direct_routing() -> None:
    check = {"path": "/health.html", "status": 204, "interval": 5, "connect_timeout": 3, "retries": 2}
    block = "\n".join(ipvs.ipvs_lb_keepalived(backends(), "10.0.0.1", 80, "lc", "route", check))
    for wanted in ("lb_kind DR", "lb_algo lc", "delay_loop 5", "path /health.html", "status_code 204"):
        assert wanted in block
    assert "connect_timeout 3" in block
    assert "retry 2" in block


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"path": "health"}, "ipvs_lb_check_path='health' must be a URL path starting with /"),
        ({"path": "/a b"}, "ipvs_lb_check_path='/a b' must be a URL path"),
        ({"status": 700}, "ipvs_lb_check_status=700 is out of range: use 100-599"),
        ({"interval": 0}, "ipvs_lb_check_interval=0 is out of range: use 1 or more"),
        ({"retries": "x"}, "ipvs_lb_check_retries='x' is not an integer"),
    ],
)
def test_ipvs_keepalived_errors(check: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        ipvs.ipvs_lb_keepalived(backends(), "192.168.100.1", check=check)


@pytest.mark.parametrize(
    ("method", "states", "https_port"),
    [
        ("masquerade", {}, 0),
        ("route", {"m1": {"backend_state": "drain"}}, 0),
        ("masquerade", {"m2": {"backend_state": "maint"}}, 0),
        ("masquerade", {}, 443),  # HTTPS passed through, checked with SSL_GET
        ("route", {"m1": {"backend_state": "drain"}}, 443),
    ],
)
def test_keepalived_itself_accepts_the_rendered_configuration(tmp_path, method: str, states: dict, https_port) -> None:
    keepalived = shutil.which("keepalived") or "/usr/sbin/keepalived"
    if not Path(keepalived).exists():
        pytest.skip("keepalived is not installed here (make deps installs it): its own config test cannot run")
    config = tmp_path / "keepalived.conf"
    block = ipvs.ipvs_lb_keepalived(backends(**states), "192.168.100.1", 80, "wrr", method, https_port=https_port)
    config.write_text("global_defs {\n    router_id m3-ipvs\n}\n" + "\n".join(block) + "\n")
    checked = subprocess.run([keepalived, "--config-test", "--use-file", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr  # no warning either


def test_keepalived_itself_refuses_a_broken_configuration(tmp_path) -> None:
    """The check above can fail: keepalived -t exits non-zero and names the line of a bad value."""
    keepalived = shutil.which("keepalived") or "/usr/sbin/keepalived"
    if not Path(keepalived).exists():
        pytest.skip("keepalived is not installed here (make deps installs it): its own config test cannot run")
    config = tmp_path / "keepalived.conf"
    block = ipvs.ipvs_lb_keepalived(backends(), "192.168.100.1", 80, "wrr")
    config.write_text("\n".join(block).replace("weight 3", "weight -3") + "\n")
    checked = subprocess.run([keepalived, "--config-test", "--use-file", str(config)], capture_output=True, text=True)
    assert checked.returncode != 0
    assert "Real server weight -3 is outside range" in checked.stderr
