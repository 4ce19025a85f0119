"""nginx's upstream lines (filter_plugins/nginx_lb.py): every line it writes and every error."""

from __future__ import annotations

import modules
import pytest
from ansible.errors import AnsibleFilterError
from lab_backends import LAB, backends

from filter_plugins import farm

nginx = modules.load("roles/nginx_lb/filter_plugins/nginx_lb.py")


def test_nginx_lines_match_the_hand_written_lab() -> None:
    hv = {h: {"lab_address": v["lab_address"], "backend_weight": v["backend_weight"]} for h, v in LAB.items()}
    b = farm.farm_backends(list(hv), hv)
    assert nginx.nginx_lb_servers(b) == ["192.168.56.2 weight=3 max_fails=1", "192.168.56.3 weight=1 max_fails=1"]


def test_nginx_lines_carry_port_timeout_conns_and_backup() -> None:
    b = backends(m2={"backend_port": 8082, "backend_fail_timeout": 5, "backend_backup": True})
    assert nginx.nginx_lb_servers(b, "least_conn") == [
        "192.168.56.2 weight=3 max_fails=1 max_conns=32",
        "192.168.56.3:8082 weight=1 max_fails=1 fail_timeout=5s max_conns=32 backup",
    ]


def test_nginx_rejects_weight_zero() -> None:
    with pytest.raises(AnsibleFilterError, match=r"backend m2: backend_weight=0 is out of range for nginx: use 1"):
        nginx.nginx_lb_servers(backends(m2={"backend_weight": 0}))


@pytest.mark.parametrize("method", ["ip_hash", "hash"])
def test_nginx_rejects_backup_with_hash_methods(method: str) -> None:
    message = f"backend m2: backend_backup=True cannot be used with nginx method {method}"
    with pytest.raises(AnsibleFilterError, match=message):
        nginx.nginx_lb_servers(backends(m2={"backend_backup": True}), method)


def test_nginx_rejects_unknown_method() -> None:
    with pytest.raises(AnsibleFilterError, match="nginx method 'random' is unknown: use one of round_robin"):
        nginx.nginx_lb_servers(backends(), "random")
