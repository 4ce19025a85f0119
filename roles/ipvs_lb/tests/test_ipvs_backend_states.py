"""playbooks/backend.yml with IPVS: each state reaches the running table at once and the file the
table is built from (keepalived's configuration, or the plain mode's rules), and nothing restarts
lbfarm-ipvs (a restart would clear the table and cut the connections a drain lets finish).

Run by ipvs_single (plain mode) and vm_farm (keepalived's checker), each with HTTPS passed through:
the state holds in both virtual services. Where the scenario runs Prometheus (neither does in
make test: docs/monitoring.md says why), it has the drained backend's weight at 0 and counts the
farm's new connections, none of which reached it.
"""

import urllib.parse

import pytest
from promcheck import counted, monitoring_host, prometheus_of

DRAINED_REQUESTS = 60

testinfra_hosts = ["balancers"]

TABLE_FILE = {"keepalived": "/etc/lbfarm/ipvs-keepalived.conf", "none": "/etc/lbfarm-ipvs.rules"}


def farm_port(farm) -> int:
    return urllib.parse.urlsplit(farm.url).port or 80


def test_states_reach_the_table_without_a_restart(host, farm, playbook) -> None:
    if farm.rebooted:
        pytest.skip("checked once, before the reboot: a reboot builds the table from the same files")
    backend = farm.backends[0]
    checker = farm.setting("checker")
    since = host.check_output("systemctl show -p ActiveEnterTimestampMonotonic --value lbfarm-ipvs")
    prometheus = prometheus_of(farm) if monitoring_host(farm) else None
    try:
        for state, wanted in (("drain", 0), ("maint", None), ("ready", backend["weight"])):
            playbook("playbooks/backend.yml", backend=backend["name"], state=state)
            table = host.check_output("ipvsadm -Ln")
            written = host.file(TABLE_FILE[checker]).content_string
            # the HTTP service, and the HTTPS one passed through to the backend's own TLS
            for https in (False, True) if farm.setting("https") else (False,):
                assert farm.ipvs_weight(backend["name"], table, https=https) == wanted, f"{state}: {table}"
                address, port = backend["address"], backend["https_port" if https else "port"]
                listed = f"{address} {port}" if checker == "keepalived" else f"-r {address}:{port} "
                assert (listed in written) == (state != "maint"), f"{state}: {written}"
            if state == "drain" and prometheus:
                # the kernel's count of new connections is the requests (counted() checks it), none
                # went to the drained backend, and Prometheus has its weight at 0
                seen, _ = counted(farm, prometheus, DRAINED_REQUESTS)
                assert seen[backend["name"]] == 0, seen
                weights = prometheus.values(f'node_ipvs_backend_weight{{local_port="{farm_port(farm)}"}}', "server")
                assert weights[backend["name"]][1] == 0, weights
    except BaseException:
        # the loop ends on ready; only a failure part-way leaves the backend out for the next tests
        playbook("playbooks/backend.yml", backend=backend["name"], state="ready", check=False)
        raise
    assert host.check_output("systemctl show -p ActiveEnterTimestampMonotonic --value lbfarm-ipvs") == since, (
        "lbfarm-ipvs restarted"
    )
