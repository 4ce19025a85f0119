"""The balancer host: exactly the chosen balancer runs and owns port 80."""

import re

import pytest
from contract import BALANCERS, CONTRACT, UNITS
from modules import load

from filter_plugins import farm as farm_filters

testinfra_hosts = ["balancers"]

CONFIG_CHECK = {"nginx": "nginx -t", "haproxy": "haproxy -c -f /etc/haproxy/haproxy.cfg"}
# IPVS lives in the kernel: its unit puts the VIP in place and keepalived's checker fills the
# table (or, in the plain mode, the unit loads it and no process runs).
# Zevenet runs on its own appliance: nothing of it on the balancer host.
PROCESSES = set(BALANCERS) - {"ipvs", "zevenet"}


def test_chosen_balancer_is_running_and_enabled(host, farm) -> None:
    farm.require_running_balancer()
    if UNITS[farm.balancer] is None:
        pytest.skip(f"{farm.balancer} runs off the balancer host: roles/zevenet_lb/tests checks it")
    service = host.service(UNITS[farm.balancer])
    assert service.is_running
    assert service.is_enabled


def test_chosen_balancer_alone_owns_port_80(host, farm) -> None:
    farm.require_running_balancer()
    if farm.balancer == "ipvs":  # the kernel takes VIP:80, no process listens
        assert not host.socket("tcp://0.0.0.0:80").is_listening
        assert f"TCP  {farm.endpoints['vip']}:{farm.endpoints['port']}" in host.check_output("ipvsadm -Ln")
    else:
        assert host.socket(f"tcp://0.0.0.0:{farm.endpoints['port']}").is_listening
        assert host.process.filter(comm=farm.balancer)
    for other in PROCESSES - {farm.balancer}:
        assert not host.process.filter(comm=other), f"{other} still runs beside {farm.balancer}"


def test_other_balancers_are_stopped_and_disabled(host, farm) -> None:
    for other in {name for name in BALANCERS if UNITS[name]} - {farm.balancer}:
        service = host.service(UNITS[other])
        assert not service.is_running, other
        # not through testinfra's is_enabled: systemd 257 (Debian 13) answers a unit that was never
        # installed with "not-found" and exit status 4, which it takes for an error
        enabled = host.run(f"systemctl is-enabled {UNITS[other]}")
        assert enabled.rc != 0, f"{other}: {enabled.stdout.strip()}"
    if farm.balancer != "ipvs" and host.exists("ipvsadm"):
        assert not re.search(r"^(TCP|UDP)\s", host.check_output("ipvsadm -Ln"), re.M), "an IPVS service is left"
        vip = farm_filters.farm_settings(farm.hostvars[farm.balancer_host], CONTRACT["ipvs"])["vip"]
        assert vip + "/" not in host.check_output("ip -br addr"), "the IPVS VIP is left"
        if not farm.hostvars[farm.balancer_host].get("lab_vip"):  # a pair's keepalived holds its address
            assert not host.process.filter(comm="keepalived"), "IPVS's keepalived checker still runs"


def test_stats_port_is_open_only_with_haproxy(host, farm) -> None:
    assert host.socket(f"tcp://0.0.0.0:{farm.haproxy_stats_port}").is_listening == (farm.balancer == "haproxy")


def test_live_configuration_passes_the_balancer_own_check(host, farm) -> None:
    if farm.balancer == "gobetween":  # no check flag: lbfarm's own check of what gobetween reads
        check = load("roles/gobetween_lb/filter_plugins/gobetween_lb.py").gobetween_config_errors
        assert check(host.file("/etc/gobetween.toml").content_string) == []
    elif farm.balancer == "ipvs" and farm.setting("checker") == "keepalived":
        # keepalived's own check of the live file, and the table its checker built from it: with
        # every real server healthy, the virtual service as the rules of the plain mode say it
        assert host.run("keepalived --config-test --use-file /etc/lbfarm/ipvs-keepalived.conf").rc == 0
        wanted = load("roles/ipvs_lb/filter_plugins/ipvs_lb.py").ipvs_lb_rules(
            farm.backends, farm.setting("vip"), farm.setting("port"), farm.setting("scheduler"), farm.setting("method"),
            farm.setting("https_port") if farm.setting("https") else 0,
        )  # fmt: skip
        assert set(host.check_output("ipvsadm -Sn").split("\n")) == set(wanted)
        assert not host.file("/etc/lbfarm-ipvs.rules").exists, "the plain mode's rules are left"
    elif farm.balancer == "ipvs":  # the plain mode: what the kernel runs is what the rules file says
        wanted = host.file("/etc/lbfarm-ipvs.rules").content_string.split("\n")
        assert set(host.check_output("ipvsadm -Sn").split("\n")) == {line for line in wanted if line}
        assert not host.file("/etc/lbfarm/ipvs-keepalived.conf").exists, "keepalived's configuration is left"
    else:
        assert host.run(CONFIG_CHECK[farm.balancer]).rc == 0
