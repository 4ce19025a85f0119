"""What Prometheus scrapes in the farm, from the inventory and the balancer's metrics endpoint."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
  name: monitoring_scrape_configs
  short_description: Prometheus' scrape_configs for the farm
  description:
    - One job per kind of target, each target labelled with its inventory host as C(instance):
      C(prometheus) (the server itself), C(node) (every farm host), C(apache) (each backend host,
      once however many backends it carries), and C(balancer) (the chosen balancer's own metrics,
      C(farm_endpoints).metrics, labelled with the balancer's name too).
    - A balancer whose real servers the node exporter sees (its contract's C(node_metrics), IPVS:
      the kernel's weight and connections of each) has each of those series labelled C(server)
      with its backend's name, as HAProxy names its servers.
    - The balancer's password is read from a file on the Prometheus host, never written in the
      configuration; a TLS endpoint is verified against the CA file when one is given.
  positional: addresses
  options:
    addresses:
      description: Every farm host and the Prometheus host, mapped to the address its exporters answer on.
      type: dict
    backends:
      description: The backend hosts (inventory names), for Apache's exporter.
      type: list
    server:
      description: The Prometheus host (inventory name).
      type: str
    ports:
      description: The ports of C(prometheus), C(node) and C(apache).
      type: dict
    balancer:
      description:
        - C(name); C(metrics), each balancer host mapped to its farm_endpoints' metrics (or none);
          C(password_file), C(ca_file).
        - C(node_metrics), its contract's prefix of the node exporter's series of each real server
          (or empty), with C(backends), the farm's backends (farm_backends).
      type: dict
"""

EXAMPLES = r"""
_jobs: >-
  {{ {'m1': '172.30.56.2', 'm3': '172.30.56.4'} | monitoring_scrape_configs(['m1'], 'm3',
     {'prometheus': 9090, 'node': 9100, 'apache': 9117},
     {'name': 'nginx', 'metrics': {'m3': {'url': 'http://172.30.56.4:9113/metrics', 'user': none}}}) }}
# [{'job_name': 'prometheus', 'static_configs': [{'targets': ['172.30.56.4:9090'], 'labels': {'instance': 'm3'}}]},
#  {'job_name': 'node', ...}, {'job_name': 'apache', ...},
#  {'job_name': 'balancer', 'metrics_path': '/metrics', 'scheme': 'http',
#   'static_configs': [{'targets': ['172.30.56.4:9113'], 'labels': {'instance': 'm3', 'balancer': 'nginx'}}]}]
"""

RETURN = r"""
_value:
  description: Prometheus' scrape_configs, a list of jobs.
  type: list
"""

JOBS = ("prometheus", "node", "apache")


def _target(name: str, addresses: Mapping[str, Any], port: int) -> dict[str, Any]:
    address = addresses.get(name)
    if not address:
        raise AnsibleFilterError(f"host {name}: it has no lab_address (nor ansible_host) for its exporters")
    return {"targets": [f"{address}:{port}"], "labels": {"instance": name}}


def _port(job: str, ports: Mapping[str, Any]) -> int:
    try:
        port = int(ports[job])
    except (KeyError, TypeError, ValueError):
        raise AnsibleFilterError(f"the port of {job}: {ports.get(job)!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise AnsibleFilterError(f"the port of {job}: {port} is not between 1 and 65535")
    return port


def _balancer_job(balancer: Mapping[str, Any]) -> dict[str, Any] | None:
    hosts = {host: metrics for host, metrics in balancer["metrics"].items() if metrics}
    if not hosts:
        return None
    urls = {host: urlsplit(str(metrics["url"])) for host, metrics in hosts.items()}
    kinds = {(u.scheme, u.path, hosts[h].get("user")) for h, u in urls.items()}
    if len(kinds) > 1:
        raise AnsibleFilterError(
            f"balancer {balancer['name']}: its hosts serve their metrics differently ({sorted(map(str, kinds))}): "
            "give them the same settings"
        )
    scheme, path, user = kinds.pop()
    job: dict[str, Any] = {
        "job_name": "balancer",
        "scheme": scheme,
        "metrics_path": path or "/metrics",
        "static_configs": [
            {"targets": [url.netloc], "labels": {"instance": host, "balancer": balancer["name"]}}
            for host, url in urls.items()
        ],
    }
    if user:
        if not balancer.get("password_file"):
            name = balancer["name"]
            raise AnsibleFilterError(f"balancer {name}: its metrics need a password and no password_file was given")
        job["basic_auth"] = {"username": user, "password_file": balancer["password_file"]}
    if scheme == "https":
        # HTTP/1.1: an HTTP/2 connection that Prometheus keeps open holds a balancer's soft stop
        # (a swap, a restart) until the balancer's client timeout; an idle HTTP/1.1 one is closed at once
        job["enable_http2"] = False
        if balancer.get("ca_file"):
            job["tls_config"] = {"ca_file": balancer["ca_file"]}
    return job


def _real_server_names(balancer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Label the node exporter's series of each real server of a balancer (remote_address,
    remote_port) with the name of the backend behind it, on its HTTP and its HTTPS port."""
    prefix = str(balancer.get("node_metrics") or "")
    if not prefix:
        return []
    backends = balancer.get("backends")
    if not backends:
        name = balancer["name"]
        raise AnsibleFilterError(f"balancer {name}: the node exporter sees its real servers, give backends")
    return [
        {
            "source_labels": ["__name__", "remote_address", "remote_port"],
            "regex": f"{re.escape(prefix)}.*;{re.escape(str(b['address']))};({b['port']}|{b['https_port']})",
            "target_label": "server",
            "replacement": str(b["name"]),
        }
        for b in backends
    ]


def monitoring_scrape_configs(
    addresses: Mapping[str, Any],
    backends: Sequence[str],
    server: str,
    ports: Mapping[str, Any],
    balancer: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The scrape jobs of the farm: the server, every host, each backend host, and the balancer."""
    if not isinstance(addresses, Mapping) or not addresses:
        raise AnsibleFilterError(f"addresses must map each farm host to its address, not {addresses!r}")
    hosts = {"prometheus": [server], "node": list(addresses), "apache": list(dict.fromkeys(backends))}
    jobs = [
        {"job_name": job, "static_configs": [_target(name, addresses, _port(job, ports)) for name in hosts[job]]}
        for job in JOBS
        if hosts[job]
    ]
    relabels = _real_server_names(balancer) if balancer else []
    if relabels:
        next(j for j in jobs if j["job_name"] == "node")["metric_relabel_configs"] = relabels
    job = _balancer_job(balancer) if balancer else None
    if job:
        jobs.append(job)
    targets = [t for job in jobs for config in job["static_configs"] for t in config["targets"]]
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise AnsibleFilterError(f"two exporters would answer on {', '.join(twice)}: give each its own port")
    return jobs


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"monitoring_scrape_configs": monitoring_scrape_configs}
