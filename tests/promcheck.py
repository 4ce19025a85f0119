"""Prometheus' HTTP API as the tests ask it (roles/monitoring): queries, targets, alerts, and the
farm's requests as Prometheus counts them."""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest
from contract import CONTRACT
from farmcheck import in_netns, wait_until

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


@dataclass
class Prometheus:
    host: str  # its inventory host
    url: str
    interval: float  # seconds between two scrapes, and between two evaluations of the rules
    netns: str = ""  # the VM lab's client, where Prometheus answers on the lab segment

    def api(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with (
            in_netns(self.netns) if self.netns else contextlib.nullcontext(),
            urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as answer,
        ):
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


def monitoring_host(farm) -> str | None:
    """The inventory host of group monitoring, where Prometheus runs; None where none does."""
    return next((h for h, v in farm.hostvars.items() if "monitoring" in v.get("group_names", [])), None)


def prometheus_of(farm) -> Prometheus:
    """The scenario's Prometheus (on the host of inventory group monitoring), once it has scraped
    the exporters since now: after a swap it has just taken its new configuration. Skips, saying
    why, where the scenario runs none."""
    host = monitoring_host(farm)
    if host is None:
        pytest.skip("no host in inventory group monitoring: this scenario runs no Prometheus")
    hostvars = farm.hostvars[host]
    prometheus = Prometheus(
        host=host,
        url=f"http://{hostvars['lab_address']}:{hostvars.get('monitoring_port', 9090)}",
        interval=_seconds(str(hostvars.get("monitoring_scrape_interval", "15s"))),
        netns=(farm.lab_client or {}).get("netns", ""),
    )
    now = time.time()
    assert wait_until(lambda: prometheus.scraped_after("node", now), timeout=10 * prometheus.interval + 10)
    return prometheus


def scrapes(before: float, after: float, interval: float) -> int:
    """How many scrapes a target had between two of its samples (each one reads mod_status once)."""
    return round((after - before) / interval)


@dataclass
class Counter:
    """A balancer's own count of the farm's requests in Prometheus: per server (label "server"), or
    one in all; the job that scrapes it; whether that job's own reads pass through it (and add one
    per scrape)."""

    expr: str
    label: str
    job: str
    scrapes_counted: bool = False


def own_counter(farm) -> Counter | None:
    """The balancer's own counter where Prometheus has it: HAProxy's per server; nginx's in all, its
    exporter's reads of stub_status too; IPVS's new connections in all, from the node exporter on
    its host (one per request: the tests' client opens one for each), since the kernel keeps no
    count per real server where the node exporter reads."""
    if farm.balancer == "haproxy" and farm.endpoints["metrics"]:
        return Counter('sum by (server) (haproxy_server_http_responses_total{proxy="farm"})', "server", "balancer")
    if farm.balancer == "nginx" and farm.endpoints["metrics"]:
        return Counter('nginx_http_requests_total{job="balancer"}', "instance", "balancer", scrapes_counted=True)
    if CONTRACT[farm.balancer]["node_metrics"] == "node_ipvs_backend_":
        return Counter(f'node_ipvs_connections_total{{instance="{farm.balancer_host}"}}', "instance", "node")
    return None


def counted(farm, prometheus: Prometheus, requests: int) -> tuple[dict, dict]:
    """Send requests through the farm; give who answered each (as the pages say) and what Prometheus
    counted for each backend between a scrape before and one after: the balancer's count per server
    where it has one (HAProxy), else Apache's own count without its exporter's reads of mod_status
    (and with the balancer's health checks, where it sends them). Where the balancer counts in all
    (nginx, IPVS), its total must be the requests."""
    apache = 'apache_accesses_total{job="apache"}'
    own = own_counter(farm)
    start = time.time()
    assert wait_until(lambda: prometheus.scraped_after("apache", start), timeout=10 * prometheus.interval)
    before = prometheus.values(apache)
    own_before = prometheus.values(own.expr, own.label) if own else {}
    seen = farm.count(requests)
    assert sum(seen[name] for name in farm.shares) == requests, f"failed requests: {seen}"
    end = time.time()
    jobs = ["apache"] + ([own.job] if own else [])
    assert wait_until(lambda: all(prometheus.scraped_after(j, end) for j in jobs), timeout=10 * prometheus.interval)
    after = prometheus.values(apache)

    served = {}
    for name in farm.shares:
        (t0, v0), (t1, v1) = before[name], after[name]
        served[name] = v1 - v0 - scrapes(t0, t1, prometheus.interval)
        assert served[name] >= seen[name], (name, served[name], seen)
        if farm.balancer == "nginx":  # nginx sends no health checks: Apache counted the farm's requests alone
            assert served[name] == seen[name], (name, served[name], seen)
    if own:
        own_after = prometheus.values(own.expr, own.label)
        if own.label == "server":  # per server, the checks apart: exactly the farm's requests
            served = {name: own_after.get(name, (0, 0))[1] - own_before.get(name, (0, 0))[1] for name in farm.shares}
        else:
            (t0, v0), (t1, v1) = next(iter(own_before.values())), next(iter(own_after.values()))
            reads = scrapes(t0, t1, prometheus.interval) if own.scrapes_counted else 0
            assert v1 - v0 - reads == requests, (own.expr, v0, v1, t0, t1)
    return seen, served
