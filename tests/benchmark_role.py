"""The benchmark role's filters (roles/benchmark/filter_plugins/benchmark.py), and its variables as
Ansible templates them from roles/benchmark/vars/main.yml with the repository's filters and the
balancer contract: where the farm answers for each balancer and variant is the role's to say
(farm_endpoints, in _benchmark_farm_urls), not the filters'."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import modules
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader, lookup_loader
from ansible.template import Templar, trust_as_template

bench = modules.load("roles/benchmark/filter_plugins/benchmark.py")

for _directory in ("filter_plugins", "roles/benchmark/filter_plugins"):
    filter_loader.add_directory(str(modules.REPO / _directory))
lookup_loader.add_directory(str(modules.REPO / "lookup_plugins"))


def role_var(name: str, balancer_host: Mapping[str, Any], **variables: Any) -> Any:
    """The role variable `name`, templated for an inventory of one balancer host (its hostvars given)."""
    loader = DataLoader()
    role_vars = loader.load_from_file(str(modules.REPO / "roles/benchmark/vars/main.yml"), trusted_as_template=True)
    host = str(balancer_host.get("inventory_hostname", "m3"))
    context = {
        **role_vars,
        "groups": {"balancers": [host], "backends": []},
        "hostvars": {host: dict(balancer_host)},
        "benchmark_balancers": [],
        "benchmark_variants": [],
        **variables,
    }
    return Templar(loader, variables=context).template(trust_as_template("{{ " + name + " }}"))


def targets(
    backends: Sequence[Mapping[str, Any]],
    balancer_host: Mapping[str, Any],
    balancers: Sequence[str] = (),
    variants: Sequence[Mapping[str, Any]] = (),
    path: str = "/",
    direct: bool = True,
    tls_loads: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """bench_targets as the role calls it: its farms, each where _benchmark_farm_urls says the farm answers."""
    farms = bench.bench_farms(balancers, variants)
    urls = role_var("_benchmark_farm_urls", balancer_host, _benchmark_farms=farms)
    return bench.bench_targets(backends, farms, dict(urls), path, direct, tls_loads)
