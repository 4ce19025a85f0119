"""The VirtualBox inventory works with every balancer it offers, read the way Ansible reads it."""

from __future__ import annotations

from typing import Any

import modules
import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager
from contract import BALANCERS
from farmcheck import REPO

from filter_plugins import farm

INVENTORY = REPO / "inventory" / "vbox"
# the balancers' own filters, which load with their roles
gobetween = modules.load("roles/gobetween_lb/filter_plugins/gobetween_lb.py")
nginx = modules.load("roles/nginx_lb/filter_plugins/nginx_lb.py")
haproxy = modules.load("roles/haproxy_lb/filter_plugins/haproxy_lb.py")
ipvs = modules.load("roles/ipvs_lb/filter_plugins/ipvs_lb.py")
zevenet = modules.load("roles/zevenet_lb/filter_plugins/zevenet_lb.py")


def vbox_hostvars(balancer: str) -> tuple[list[str], HostVars]:
    """The backends group and the hostvars of inventory/vbox run with -e balancer=BALANCER.

    Ansible's own loader and hostvars, so templated values (lab_address, backend_max_conns)
    are evaluated as a play would; the override sits above group_vars like the -e it stands for.
    """
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(INVENTORY)])
    variables = VariableManager(loader=loader, inventory=inventory)
    for host in inventory.get_hosts():
        variables.set_host_variable(host.name, "balancer", balancer)
    return inventory.get_groups_dict()["backends"], HostVars(inventory, variables, loader)


def role_variable(hostvars: HostVars, role: str, name: str) -> Any:
    """A role variable as m3 (the balancer) sees it: the inventory's value, else the role's default."""
    balancer_vars = hostvars["m3"]
    if name in balancer_vars:
        return balancer_vars[name]
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())[name]


def render(balancer: str, backends: list[dict], hostvars: HostVars) -> list[str]:
    """The backend list as the balancer's role renders it (roles/*_lb/vars/main.yml)."""
    role = f"{balancer}_lb"

    def var(name: str) -> Any:
        return role_variable(hostvars, role, f"{role}_{name}")

    if balancer == "nginx":
        return nginx.nginx_lb_servers(backends, var("method"))
    if balancer == "haproxy":
        return haproxy.haproxy_lb_servers(backends, cookie=var("cookie"), check=var("check"))
    if balancer == "gobetween":
        return gobetween.gobetween_lb_static_list(backends)
    if balancer == "ipvs":
        return ipvs.ipvs_lb_rules(backends, var("vip"), var("port"), var("scheduler"), var("method"))
    if balancer == "zevenet":
        return zevenet.zevenet_lb_zapi_backends(backends, var("profile"), var("weight_policy"))
    raise AssertionError(f"no renderer known for balancer {balancer}: add it to this test")


@pytest.mark.parametrize("balancer", BALANCERS)
def test_backends_render_for_each_balancer(balancer: str) -> None:
    hosts, hostvars = vbox_hostvars(balancer)
    lines = render(balancer, farm.farm_backends(hosts, hostvars), hostvars)
    assert len(lines) == len(hosts) + (1 if balancer == "ipvs" else 0)


def test_haproxy_gets_the_hand_written_labs_server_lines() -> None:
    hosts, hostvars = vbox_hostvars("haproxy")
    assert haproxy.haproxy_lb_servers(farm.farm_backends(hosts, hostvars), cookie=False, check=False) == [
        "m1 192.168.56.2:80 maxconn 32 weight 3",
        "m2 192.168.56.3:80 maxconn 32 weight 1",
    ]


def test_nginx_gets_the_hand_written_labs_server_lines() -> None:
    hosts, hostvars = vbox_hostvars("nginx")
    assert nginx.nginx_lb_servers(farm.farm_backends(hosts, hostvars)) == [
        "192.168.56.2 weight=3 max_fails=1",
        "192.168.56.3 weight=1 max_fails=1",
    ]
