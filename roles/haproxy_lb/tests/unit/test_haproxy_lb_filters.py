"""HAProxy's server lines (filter_plugins/haproxy_lb.py): every line it writes and every error."""

from __future__ import annotations

import modules
import pytest
from ansible.errors import AnsibleFilterError
from lab_backends import backends

from filter_plugins import farm

haproxy = modules.load("roles/haproxy_lb/filter_plugins/haproxy_lb.py")


def test_haproxy_lines_match_the_hand_written_lab() -> None:
    assert haproxy.haproxy_lb_servers(backends(), cookie=False, check=False) == [
        "m1 192.168.56.2:80 maxconn 32 weight 3",
        "m2 192.168.56.3:80 maxconn 32 weight 1",
    ]


def test_haproxy_lines_with_cookie_check_and_backup() -> None:
    b = backends(m2={"backend_backup": True, "backend_max_conns": None, "backend_port": 8080})
    assert haproxy.haproxy_lb_servers(b) == [
        "m1 192.168.56.2:80 maxconn 32 weight 3 cookie m1 check",
        "m2 192.168.56.3:8080 weight 1 cookie m2 check backup",
    ]


def test_haproxy_accepts_weight_zero_and_256() -> None:
    b = backends(m1={"backend_weight": 0}, m2={"backend_weight": 256})
    assert [line.split()[5] for line in haproxy.haproxy_lb_servers(b, cookie=False)] == ["0", "256"]


def test_haproxy_rejects_weight_above_256() -> None:
    message = "backend m1: backend_weight=257 is out of range for HAProxy: use 0-256"
    with pytest.raises(AnsibleFilterError, match=message):
        haproxy.haproxy_lb_servers(backends(m1={"backend_weight": 257}))


def test_haproxy_rejects_a_host_name_it_cannot_use_as_server_name() -> None:
    hv = {"web 1": {"lab_address": "10.0.0.1"}}
    with pytest.raises(AnsibleFilterError, match="backend web 1: inventory_hostname='web 1' is not a valid HAProxy"):
        haproxy.haproxy_lb_servers(farm.farm_backends(["web 1"], hv))
