"""Prometheus' HTTP API as the tests ask it (roles/monitoring): queries, targets, alerts."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest
from farmcheck import wait_until

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


@dataclass
class Prometheus:
    host: str  # its inventory host
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


def prometheus_of(farm) -> Prometheus:
    """The scenario's Prometheus (on the host of inventory group monitoring), once it has scraped
    the exporters since now: after a swap it has just taken its new configuration. Skips, saying
    why, where the scenario runs none."""
    host = next((h for h, v in farm.hostvars.items() if "monitoring" in v.get("group_names", [])), None)
    if host is None:
        pytest.skip("no host in inventory group monitoring: this scenario runs no Prometheus")
    hostvars = farm.hostvars[host]
    prometheus = Prometheus(
        host=host,
        url=f"http://{hostvars['lab_address']}:{hostvars.get('monitoring_port', 9090)}",
        interval=_seconds(str(hostvars.get("monitoring_scrape_interval", "15s"))),
    )
    now = time.time()
    assert wait_until(lambda: prometheus.scraped_after("node", now), timeout=10 * prometheus.interval + 10)
    return prometheus
