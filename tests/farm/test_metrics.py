"""What Prometheus sees of the farm (roles/monitoring), asked through its HTTP API as a user would:
every target up and none of a balancer swapped away, the requests of each backend as the farm
served them, an alert when Apache stops, and the expiry of the certificate the balancer serves."""

from __future__ import annotations

import re
import ssl
import time

import pytest
from farmcheck import SHARE_TOLERANCE, handshake, tls_context, wait_until
from promcheck import Prometheus, prometheus_of

REQUESTS = 300


@pytest.fixture(scope="module")
def prometheus(farm) -> Prometheus:
    return prometheus_of(farm)


def _balancer_metrics(farm) -> dict | None:
    return farm.endpoints["metrics"]


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
    assert balancers == ({farm.balancer} if _balancer_metrics(farm) else set()), targets


def _scrapes(before: float, after: float, interval: float) -> int:
    """How many scrapes a target had between two of its samples (each one reads mod_status once)."""
    return round((after - before) / interval)


# the balancer's own request counter, and the label that tells its series apart
COUNTERS = {
    "haproxy": ('sum by (server) (haproxy_server_http_responses_total{proxy="farm"})', "server"),
    "nginx": ('nginx_http_requests_total{job="balancer"}', "instance"),
}


def _load_as_prometheus_counts_it(farm, prometheus: Prometheus, requests: int) -> tuple[dict, dict]:
    """Send requests through the farm; give who answered each (as the pages say) and what Prometheus
    counted for each backend between a scrape before and one after: HAProxy's per-server counters
    where HAProxy runs, else Apache's own count without its exporter's reads of mod_status (and
    with HAProxy's health checks, where it runs). The balancer's own total must be the requests."""
    apache = 'apache_accesses_total{job="apache"}'
    own = COUNTERS.get(farm.balancer) if _balancer_metrics(farm) else None
    start = time.time()
    assert wait_until(lambda: prometheus.scraped_after("apache", start), timeout=10 * prometheus.interval)
    before = prometheus.values(apache)
    own_before = prometheus.values(*own) if own else {}
    seen = farm.count(requests)
    assert sum(seen[name] for name in farm.shares) == requests, f"failed requests: {seen}"
    end = time.time()
    jobs = ["apache"] + (["balancer"] if own else [])
    assert wait_until(lambda: all(prometheus.scraped_after(j, end) for j in jobs), timeout=10 * prometheus.interval)
    after = prometheus.values(apache)

    served = {}
    for name in farm.shares:
        (t0, v0), (t1, v1) = before[name], after[name]
        served[name] = v1 - v0 - _scrapes(t0, t1, prometheus.interval)
        assert served[name] >= seen[name], (name, served[name], seen)
        if farm.balancer == "nginx":  # nginx sends no health checks: Apache counted the farm's requests alone
            assert served[name] == seen[name], (name, served[name], seen)
    if own:
        own_after = prometheus.values(*own)
        if farm.balancer == "haproxy":  # per server, its checks apart: exactly the farm's requests
            served = {name: own_after.get(name, (0, 0))[1] - own_before.get(name, (0, 0))[1] for name in farm.shares}
        else:  # nginx counts every request it takes, its exporter's reads of stub_status too
            (t0, v0), (t1, v1) = next(iter(own_before.values())), next(iter(own_after.values()))
            assert v1 - v0 - _scrapes(t0, t1, prometheus.interval) == requests, (v0, v1, t0, t1)
    return seen, served


def test_requests_per_backend_follow_weights_and_add_up(farm, prometheus) -> None:
    farm.require_running_balancer()
    seen, served = _load_as_prometheus_counts_it(farm, prometheus, REQUESTS)
    if farm.balancer in ("haproxy", "nginx"):  # exact: Prometheus counted what the farm served
        assert served == {name: seen[name] for name in farm.shares}, (served, seen)
    for name, share in farm.shares.items():
        assert abs(served[name] / sum(served.values()) - share) <= SHARE_TOLERANCE, (name, share, served)


def test_a_drained_backend_gets_nothing_in_prometheus(farm, prometheus, playbook) -> None:
    farm.require_running_balancer()
    if farm.balancer not in COUNTERS:
        pytest.skip(f"{farm.balancer}: no count per backend that leaves out health checks")
    drained = farm.backends[0]["name"]
    playbook("playbooks/backend.yml", backend=drained, state="drain")
    try:
        seen, served = _load_as_prometheus_counts_it(farm, prometheus, REQUESTS // 3)
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
    with handshake(url, tls_context()) as tls:
        served = ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"])
    published = prometheus.values(f'lbfarm_tls_certificate_not_after_seconds{{instance="{farm.balancer_host}"}}')
    assert published[farm.balancer_host][1] == served, (published, served)
    assert not prometheus.alerts("CertificateExpiresSoon")


def _recap_changes(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"changed=(\d+)", output)]


def test_a_duration_prometheus_refuses_stops_the_run_before_any_host_changes(farm, prometheus, playbook) -> None:
    if farm.balancer != "haproxy":
        pytest.skip("the monitoring inputs do not depend on the balancer: checked once, on HAProxy")
    server = farm.host(prometheus.host)
    before = server.file("/etc/prometheus/prometheus.yml").sha256sum
    run = playbook("site.yml", "-e", "monitoring_scrape_interval=15", check=False)
    assert run.rc != 0
    assert "monitoring_scrape_interval=15 is not a Prometheus duration" in run.output, run.output[-3000:]
    assert _recap_changes(run.output), run.output[-3000:]
    assert set(_recap_changes(run.output)) == {0}, run.output[-3000:]
    assert server.file("/etc/prometheus/prometheus.yml").sha256sum == before


def test_a_collector_the_node_exporter_does_not_know_is_refused_in_its_words(farm, prometheus, playbook) -> None:
    if farm.balancer != "haproxy":
        pytest.skip("the monitoring inputs do not depend on the balancer: checked once, on HAProxy")
    hosts = {name: farm.host(name) for name in [b["name"] for b in farm.backends] + [farm.balancer_host]}
    before = {name: h.file("/etc/default/prometheus-node-exporter").sha256sum for name, h in hosts.items()}
    run = playbook("playbooks/monitoring.yml", "-e", '{"monitoring_node_exporter_collectors": ["bogus"]}', check=False)
    assert run.rc != 0
    assert "unknown long flag '--collector.bogus'" in run.output, run.output[-3000:]
    assert {name: h.file("/etc/default/prometheus-node-exporter").sha256sum for name, h in hosts.items()} == before
    up = prometheus.values('up{job="node"}')
    assert {name: value for name, (_, value) in up.items()} == dict.fromkeys(hosts, 1.0), up


def test_monitoring_turned_off_stops_prometheus_and_the_exporters_and_on_again(farm, prometheus, playbook) -> None:
    if farm.balancer != "haproxy":
        pytest.skip("turning metrics off does not depend on the balancer: checked once, on HAProxy")
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
