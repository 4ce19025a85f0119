"""What Prometheus sees of the farm (roles/monitoring), asked through its HTTP API as a user would:
every target up and none of a balancer swapped away, the requests of each backend as the farm
served them, an alert when Apache stops, and the expiry of the certificate the balancer serves."""

from __future__ import annotations

import contextlib
import re
import ssl
import time

import pytest
from contract import CONTRACT
from farmcheck import SHARE_TOLERANCE, handshake, in_netns, tls_context, wait_until
from promcheck import Prometheus, counted, prometheus_of

REQUESTS = 300


@pytest.fixture(scope="module")
def prometheus(farm) -> Prometheus:
    return prometheus_of(farm)


def test_every_target_is_up_and_none_of_another_balancer(farm, prometheus) -> None:
    def active() -> list[dict]:
        return prometheus.api("targets", state="active")["activeTargets"]

    # a target new since the swap is "unknown" until its first scrape
    assert wait_until(lambda: all(t["health"] != "unknown" for t in active()), timeout=10 * prometheus.interval)
    targets = active()
    down = [(t["labels"]["job"], t["labels"]["instance"], t["lastError"]) for t in targets if t["health"] != "up"]
    assert not down, down
    # the node exporters read lbfarm's textfiles (the certificate's expiry, a pair's holder)
    errors = prometheus.values("node_textfile_scrape_error")
    assert errors, "no node exporter reports its textfile collector"
    assert all(value == 0 for _, value in errors.values()), errors
    jobs = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets}
    hosts = {b["name"] for b in farm.backends} | {farm.balancer_host}
    assert {("node", h) for h in hosts} <= jobs, jobs
    assert {("apache", b["name"]) for b in farm.backends} <= jobs, jobs
    balancers = {t["labels"].get("balancer") for t in targets if t["labels"]["job"] == "balancer"}
    # the balancer the farm runs now, whose metrics its endpoints say, and no other
    assert balancers == ({farm.balancer} if farm.endpoints["metrics"] else set()), targets


def test_requests_per_backend_follow_weights_and_add_up(farm, prometheus) -> None:
    farm.require_running_balancer()
    seen, served = counted(farm, prometheus, REQUESTS)
    if farm.balancer in ("haproxy", "nginx"):  # exact: Prometheus counted what the farm served
        assert served == {name: seen[name] for name in farm.shares}, (served, seen)
    for name, share in farm.shares.items():
        assert abs(served[name] / sum(served.values()) - share) <= SHARE_TOLERANCE, (name, share, served)


def test_a_drained_backend_gets_nothing_in_prometheus(farm, prometheus, playbook) -> None:
    farm.require_running_balancer()
    if farm.lab_client:
        pytest.skip(
            "on the VMs each backend.yml run takes most of a minute: a drain in Prometheus is checked in the "
            "containers (molecule/roles), and IPVS's with the states in its table (test_ipvs_backend_states)"
        )
    if farm.balancer not in ("haproxy", "nginx"):
        pytest.skip(f"{farm.balancer}: no count per backend that leaves out health checks")
    drained = farm.backends[0]["name"]
    playbook("playbooks/backend.yml", backend=drained, state="drain")
    try:
        seen, served = counted(farm, prometheus, REQUESTS // 3)
    finally:
        playbook("playbooks/backend.yml", backend=drained, state="ready")
    assert served[drained] == seen[drained] == 0, (served, seen)
    assert sum(served.values()) == REQUESTS // 3, served


def test_recorded_rates_per_backend(farm, prometheus) -> None:
    """lbfarm's recording rules give each backend's request rate (the test before sent some)."""
    rates = prometheus.values("lbfarm:backend_requests:rate1m")
    assert set(rates) >= {b["name"] for b in farm.backends}, rates
    assert all(value > 0 for _, value in rates.values()), rates


def test_stopped_apache_is_down_and_alerted(farm, prometheus) -> None:
    farm.require_running_balancer()
    dead = farm.backends[0]["name"]
    apache = farm.host(dead)
    apache.run_test("systemctl stop apache2")
    try:
        # two scrapes at most see it down, one evaluation of the rules fires the alert
        # (monitoring_alert_for is 0s in this scenario); the margin is for a busy machine
        assert wait_until(
            lambda: prometheus.values(f'apache_up{{instance="{dead}"}}').get(dead, (0, 1))[1] == 0,
            timeout=2 * prometheus.interval + 10,
        ), prometheus.query("apache_up")
        assert wait_until(
            lambda: any(
                a["labels"].get("instance") == dead and a["state"] == "firing" for a in prometheus.alerts("BackendDown")
            ),
            timeout=2 * prometheus.interval + 10,
        ), prometheus.alerts("BackendDown")
        others = [a["labels"].get("instance") for a in prometheus.alerts("BackendDown")]
        assert others == [dead], others
    finally:
        apache.run_test("systemctl start apache2")
    assert wait_until(lambda: not prometheus.alerts("BackendDown"), timeout=2 * prometheus.interval + 10)
    assert wait_until(lambda: dead in farm.count(10), timeout=30), f"{dead} got no traffic back"


def test_certificate_expiry_is_the_served_certificate(farm, prometheus) -> None:
    farm.require_running_balancer()
    url = farm.endpoints.get("https_url")
    if not url:
        pytest.skip(f"{farm.balancer} serves no HTTPS here")
    if CONTRACT[farm.balancer]["tls_passthrough"]:
        pytest.skip(f"{farm.balancer} passes TLS through: the backends serve the certificate, not the balancer")
    with (
        in_netns(farm.lab_client["netns"]) if farm.lab_client else contextlib.nullcontext(),
        handshake(url, tls_context()) as tls,
    ):
        served = ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"])
    published = prometheus.values(f'lbfarm_tls_certificate_not_after_seconds{{instance="{farm.balancer_host}"}}')
    assert published[farm.balancer_host][1] == served, (published, served)
    assert not prometheus.alerts("CertificateExpiresSoon")


def _recap_changes(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"changed=(\d+)", output)]


def once(farm, what: str) -> None:
    """Skip but on HAProxy in the containers: what does not depend on the balancer or the hosts is
    checked once (molecule/roles), not again after a swap or on the VMs, where a run takes minutes."""
    if farm.balancer != "haproxy" or farm.lab_client:
        pytest.skip(f"{what} does not depend on the balancer or the hosts: checked once, on HAProxy in the containers")


def test_a_duration_prometheus_refuses_stops_the_run_before_any_host_changes(farm, prometheus, playbook) -> None:
    once(farm, "a bad monitoring input")
    server = farm.host(prometheus.host)
    before = server.file("/etc/prometheus/prometheus.yml").sha256sum
    run = playbook("site.yml", "-e", "monitoring_scrape_interval=15", check=False)
    assert run.rc != 0
    assert "monitoring_scrape_interval=15 is not a Prometheus duration" in run.output, run.output[-3000:]
    assert _recap_changes(run.output), run.output[-3000:]
    assert set(_recap_changes(run.output)) == {0}, run.output[-3000:]
    assert server.file("/etc/prometheus/prometheus.yml").sha256sum == before


def test_a_collector_the_node_exporter_does_not_know_is_refused_in_its_words(farm, prometheus, playbook) -> None:
    once(farm, "a bad monitoring input")
    hosts = {name: farm.host(name) for name in [b["name"] for b in farm.backends] + [farm.balancer_host]}
    before = {name: h.file("/etc/default/prometheus-node-exporter").sha256sum for name, h in hosts.items()}
    run = playbook("playbooks/monitoring.yml", "-e", '{"monitoring_node_exporter_collectors": ["bogus"]}', check=False)
    assert run.rc != 0
    assert "unknown long flag '--collector.bogus'" in run.output, run.output[-3000:]
    assert {name: h.file("/etc/default/prometheus-node-exporter").sha256sum for name, h in hosts.items()} == before
    up = prometheus.values('up{job="node"}')
    assert {name: value for name, (_, value) in up.items()} == dict.fromkeys(hosts, 1.0), up


def test_monitoring_turned_off_stops_prometheus_and_the_exporters_and_on_again(farm, prometheus, playbook) -> None:
    once(farm, "turning metrics off")
    units = {prometheus.host: ["prometheus", "prometheus-node-exporter"]}
    units |= {b["name"]: ["prometheus-node-exporter", "prometheus-apache-exporter"] for b in farm.backends}
    try:
        playbook("playbooks/monitoring.yml", "-e", "monitoring_enabled=false")
        for name, services in units.items():
            for service in services:
                unit = farm.host(name).service(service)
                assert not unit.is_running, (name, service)
                assert not unit.is_enabled, (name, service)
    finally:
        playbook("playbooks/monitoring.yml")
    for name, services in units.items():
        assert all(farm.host(name).service(s).is_running for s in services), name
    now = time.time()
    assert wait_until(lambda: prometheus.scraped_after("apache", now), timeout=10 * prometheus.interval + 10)
