"""playbooks/preflight.yml refuses two balancer hosts that would serve one address or drive one
Zevenet farm, before any host is touched: the real playbook, on an inventory of local hosts
(every preflight check is an assertion run on the controller)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from farmcheck import REPO

BACKENDS = {"m1": {"lab_address": "192.0.2.2"}, "m2": {"lab_address": "192.0.2.3"}}


def preflight(tmp_path: Path, balancer: str, m3: dict, m4: dict, **group: object) -> tuple[int, str]:
    inventory = {
        "all": {
            # the lab CA of this test's own (roles/tls), not the local lab's
            "vars": {"ansible_connection": "local", "balancer": balancer, "tls_dir": str(tmp_path / "tls"), **group},
            "children": {
                "backends": {"hosts": BACKENDS},
                "balancers": {
                    "hosts": {"m3": {"lab_address": "192.0.2.4", **m3}, "m4": {"lab_address": "192.0.2.5", **m4}}
                },
                "zevenet": {"hosts": {"z1": {"ansible_host": "192.0.2.9"}}},
            },
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(
        ["ansible-playbook", "-i", str(path), str(REPO / "playbooks/preflight.yml")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, re.sub(r"\s+", " ", done.stdout + done.stderr)


ZEVENET = {"zevenet_lb_key": "not-a-real-key", "zevenet_lb_vip": "192.0.2.10"}


def test_two_balancers_driving_one_zevenet_farm_are_refused(tmp_path: Path) -> None:
    rc, out = preflight(tmp_path, "zevenet", {}, {"zevenet_lb_vip": "192.0.2.11"}, **ZEVENET)
    assert rc != 0, out
    assert "m3 and m4 would all drive farm lbfarm at https://192.0.2.9:444/zapi/v4.0/zapi.cgi" in out, out


def test_two_appliances_serving_one_address_are_refused(tmp_path: Path) -> None:
    other = {"zevenet_lb_url": "https://192.0.2.8:444/zapi/v4.0/zapi.cgi"}
    rc, out = preflight(tmp_path, "zevenet", {}, other, **ZEVENET)
    assert rc != 0, out
    assert "m3 and m4 would all serve the farm on 192.0.2.10:80 with balancer=zevenet" in out, out


def test_two_appliances_with_their_own_farms_pass(tmp_path: Path) -> None:
    other = {"zevenet_lb_url": "https://192.0.2.8:444/zapi/v4.0/zapi.cgi", "zevenet_lb_vip": "192.0.2.11"}
    rc, out = preflight(tmp_path, "zevenet", {}, other, **ZEVENET)
    assert rc == 0, out


@pytest.mark.parametrize("balancer", ["nginx", "haproxy"])
def test_two_balancers_on_their_own_addresses_or_a_floating_one_pass(tmp_path: Path, balancer: str) -> None:
    rc, out = preflight(tmp_path, balancer, {}, {}, haproxy_lb_stats_password="not-a-real-password")
    assert rc == 0, out
    rc, out = preflight(tmp_path, balancer, {}, {}, lab_vip="192.0.2.20", haproxy_lb_stats_password="x" * 12)
    assert rc == 0, out


# gobetween checks its whole configuration on the controller, its HTTPS server with it: roles/balancer's
# preflight publishes the farm's certificate (tls.yml) before the adapter's checks run.
GOBETWEEN = {"gobetween_lb_api_password": "not-a-real-password", "gobetween_lb_install_binary": False}


def test_gobetween_with_https_passes(tmp_path: Path) -> None:
    rc, out = preflight(tmp_path, "gobetween", {}, {}, **GOBETWEEN)
    assert rc == 0, out


def test_gobetween_https_on_the_farm_s_port_is_refused_naming_host_and_variables(tmp_path: Path) -> None:
    rc, out = preflight(tmp_path, "gobetween", {"gobetween_lb_https_port": 80}, {}, **GOBETWEEN)
    assert rc != 0, out
    assert (
        "m3: gobetween.toml would be wrong: servers.farm_tls: bind='0.0.0.0:80' is on the port of servers.farm's "
        "bind='0.0.0.0:80' (gobetween exits: net.Listen: address already in use) (set by gobetween_lb_bind_address "
        "and gobetween_lb_https_port)"
    ) in out, out


def test_an_https_port_is_no_side_port_for_the_canary(tmp_path: Path) -> None:
    rc, out = preflight(tmp_path, "gobetween", {"gobetween_lb_https_port": 8079}, {}, **GOBETWEEN)
    assert rc != 0, out
    assert "m3: balancer_canary_port=8079 is a port the farm uses (80, 8079, 8888)" in out, out
