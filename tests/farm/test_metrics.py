"""What Prometheus sees of the farm (roles/monitoring), asked through its HTTP API as a user would:
every target up and none of a balancer swapped away, the requests of each backend as the farm
served them, an alert when Apache stops, and the expiry of the certificate the balancer serves."""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest
from farmcheck import SHARE_TOLERANCE, handshake, tls_context, wait_until

REQUESTS = 300
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


@dataclass
class Prometheus:
    url: str
    interval: float  # seconds between two scrapes, and between two evaluations of the rules

    def api(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def values(self, expr: str, label: str = "instance") -> dict[str, tuple[float, float]]:
        """{label value: (timestamp of the last scrape, value)} of each series of expr."""
        return {s["metric"].get(label, ""): (float(s["value"][0]), float(s["value"][1])) for s in self.query(expr)}

    def scraped_after(self, job: str, moment: float) -> bool:
        """Every target of the job has been scraped since moment."""
        times = self.query(f'timestamp(up{{job="{job}"}})')
        return bool(times) and min(float(t["value"][1]) for t in times) > moment

    def alerts(self, name: str) -> list[dict]:
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]


def _seconds(duration: str) -> float:
    return sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", duration))


@pytest.fixture(scope="module")
def prometheus(farm) -> Prometheus:
    host = next((h for h, v in farm.hostvars.items() if "monitoring" in v.get("group_names", [])), None)
    if host is None:
        pytest.skip("no host in inventory group monitoring: this scenario runs no Prometheus")
    hostvars = farm.hostvars[host]
    prometheus = Prometheus(
        url=f"http://{hostvars['lab_address']}:{hostvars.get('monitoring_port', 9090)}",
        interval=_seconds(str(hostvars.get("monitoring_scrape_interval", "15s"))),
    )
    # after a swap, Prometheus has taken its new configuration at the end of the converge: one
    # scrape of each target since now, and the targets say how it went
    now = time.time()
    assert wait_until(lambda: all(prometheus.scraped_after(j, now) for j in ("node", "apache")), timeout=30)
    return prometheus


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


def test_requests_per_backend_follow_weights_and_add_up(farm, prometheus) -> None:
    farm.require_running_balancer()
    apache = 'apache_accesses_total{job="apache"}'
    counters = {
        "haproxy": ('sum by (server) (haproxy_server_http_responses_total{proxy="farm"})', "server"),
        "nginx": ('nginx_http_requests_total{job="balancer"}', "instance"),
    }
    own = counters.get(farm.balancer) if _balancer_metrics(farm) else None
    start = time.time()
    assert wait_until(lambda: prometheus.scraped_after("apache", start), timeout=10 * prometheus.interval)
    before = prometheus.values(apache)
    own_before = prometheus.values(*own) if own else {}
    seen = farm.count(REQUESTS)
    assert sum(seen[name] for name in farm.shares) == REQUESTS, f"failed requests: {seen}"
    end = time.time()
    jobs = ["apache"] + (["balancer"] if own else [])
    assert wait_until(lambda: all(prometheus.scraped_after(j, end) for j in jobs), timeout=10 * prometheus.interval)
    after = prometheus.values(apache)

    # Apache counts each request once, its exporter's reads of mod_status too, and HAProxy's health checks
    served = {}
    for name in farm.shares:
        (t0, v0), (t1, v1) = before[name], after[name]
        served[name] = v1 - v0 - _scrapes(t0, t1, prometheus.interval)
        assert served[name] >= seen[name], (name, served[name], seen)
        if farm.balancer == "nginx":  # nginx sends no health checks
            assert served[name] == seen[name], (name, served[name], seen)
    if own:
        own_after = prometheus.values(*own)
        if farm.balancer == "haproxy":  # HAProxy counts per server, its checks apart: exactly the farm's
            served = {name: own_after[name][1] - own_before[name][1] for name in farm.shares}
        else:  # nginx counts every request it takes, its exporter's reads of stub_status too
            (t0, v0), (t1, v1) = next(iter(own_before.values())), next(iter(own_after.values()))
            assert v1 - v0 - _scrapes(t0, t1, prometheus.interval) == REQUESTS, (v0, v1, t0, t1)
    if farm.balancer == "haproxy":
        assert served == {name: seen[name] for name in farm.shares}, (served, seen)
    assert sum(served[name] for name in farm.shares) >= REQUESTS
    for name, share in farm.shares.items():
        assert abs(served[name] / sum(served.values()) - share) <= SHARE_TOLERANCE, (name, share, served)


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
