"""The single-host IPVS lab: VIP on dummy1, two Apache real servers on 127.0.0.1, the director is the client.

Molecule runs these twice, the second time after a reboot of the VM: the VIP and the rules must be back.
"""

import itertools
import re
import time

testinfra_hosts = ["balancers"]

VIP = "192.168.100.1"


def test_dummy1_carries_the_vip(host) -> None:
    assert f"{VIP}/32" in host.check_output("ip -br addr show dev dummy1")


def test_virtual_service_lists_both_real_servers(host) -> None:
    table = host.check_output("ipvsadm -Ln")
    assert re.search(rf"TCP\s+{re.escape(VIP)}:80 rr", table), table
    for port in (8081, 8082):
        assert re.search(rf"->\s+127\.0\.0\.1:{port}\s+Masq\s+1", table), table


def test_ipvs_is_restored_at_boot(host) -> None:
    assert host.service("lbfarm-ipvs").is_enabled
    modules = host.file("/etc/modules-load.d/lbfarm-ipvs.conf").content_string.split()
    assert {"ip_vs", "ip_vs_rr", "dummy"} <= set(modules)


def test_six_requests_from_the_director_alternate_between_the_pages(host) -> None:
    page = f"curl -s -m 5 http://{VIP}/ | grep -o -m 1 'MAQUINA M[0-9]'"
    out = host.check_output(f"for i in 1 2 3 4 5 6; do {page}; done")
    pages = out.split("\n")
    assert len(pages) == 6, out
    assert set(pages) == {"MAQUINA M1", "MAQUINA M2"}, out
    assert all(a != b for a, b in itertools.pairwise(pages)), f"not alternating: {pages}"


def test_stats_show_equal_connections(host) -> None:
    # every run of this suite and the proof send an even number of requests; the counters lag ~2 s
    conns = []
    for _ in range(10):
        stats = host.check_output("ipvsadm -Ln --stats")
        conns = [int(n) for n in re.findall(r"->\s+127\.0\.0\.1:808[12]\s+(\d+)", stats)]
        if len(conns) == 2 and conns[0] == conns[1] and conns[0] > 0:
            break
        time.sleep(1)
    assert len(conns) == 2, conns
    assert conns[0] == conns[1] > 0, conns
