"""Fixtures for the testinfra suites run by Molecule (tests/farm, tests/backends)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from filter_plugins import farm as farm_filters


@dataclass
class Farm:
    """The farm under test as the inventory describes it."""

    inventory: str
    hostvars: dict[str, dict]
    backends: list[dict]
    balancer: str
    balancer_host: str

    @property
    def url(self) -> str:
        return f"http://{self.hostvars[self.balancer_host]['lab_address']}/"

    @property
    def shares(self) -> dict[str, float]:
        return farm_filters.farm_shares(self.backends)

    def host(self, name: str):
        import testinfra

        return testinfra.get_host(f"ansible://{name}", ansible_inventory=self.inventory)

    def require_running_balancer(self) -> None:
        """Skip, saying why, where the chosen balancer cannot run on this machine."""
        if self.balancer == "gobetween" and not os.environ.get("LBFARM_GOBETWEEN_ARCHIVE"):
            pytest.skip(
                "gobetween is not installed: it is in no registry this machine reaches and "
                "LBFARM_GOBETWEEN_ARCHIVE does not point at its release archive"
            )

    def secret(self, name: str) -> str:
        """A password Molecule generated for this scenario (haproxy_stats_password, gobetween_api_password)."""
        return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / name).read_text().strip()

    def stats_password(self) -> str:
        return self.secret("haproxy_stats_password")


@pytest.fixture(scope="session")
def farm(request) -> Farm:
    from testinfra.utils.ansible_runner import AnsibleRunner

    inventory = request.config.option.ansible_inventory
    if not inventory:
        pytest.skip("no Ansible inventory: these tests run under Molecule (molecule verify)")
    runner = AnsibleRunner(inventory)
    hostvars = {name: runner.get_variables(name) for name in runner.get_hosts("all")}
    backends = runner.get_hosts("backends")
    balancers = runner.get_hosts("balancers")
    return Farm(
        inventory=inventory,
        hostvars=hostvars,
        backends=farm_filters.farm_backends(backends, hostvars) if backends else [],
        balancer=hostvars[balancers[0]].get("balancer", "haproxy") if balancers else "",
        balancer_host=balancers[0] if balancers else "",
    )
