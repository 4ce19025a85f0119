"""Fixtures for the testinfra suites run by Molecule: tests/farm, tests/backends, ... and each role's own
(roles/<role>/tests)."""

from __future__ import annotations

import collections
import functools
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from contract import CONTRACT
from farmcheck import count_backends, count_backends_in_netns, trust

from filter_plugins import farm as farm_filters

REPO = Path(__file__).resolve().parent
ROLES = REPO / "roles"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config) -> None:
    """A scenario that verifies more than once (after each side effect) gets a junit report per
    verify, molecule-vm_farm.xml then molecule-vm_farm-2.xml: make test adds them all up."""
    path = getattr(config.option, "xmlpath", None)
    if not path or not Path(path).exists() or "MOLECULE_EPHEMERAL_DIRECTORY" not in os.environ:
        return
    first = Path(path)
    n = 2
    while first.with_name(f"{first.stem}-{n}{first.suffix}").exists():
        n += 1
    config.option.xmlpath = str(first.with_name(f"{first.stem}-{n}{first.suffix}"))


@dataclass
class Farm:
    """The farm under test as the inventory describes it."""

    inventory: str
    hostvars: dict[str, dict]
    backends: list[dict]
    balancer: str
    balancer_host: str
    # The VM lab's client: a network namespace on this machine plugged into the lab segment
    # ({netns, address, routes}); without one, requests go from this machine.
    lab_client: dict | None = None
    # a side effect swapped the balancer away from the inventory's: the playbooks the tests run
    # are told which one the farm runs now (-e balancer=...)
    swapped: bool = False
    # a side effect rebooted the balancer host (molecule/ipvs_single): what the tests changed on
    # the running host before the reboot need not be changed again
    rebooted: bool = False

    @property
    def endpoints(self) -> dict:
        """Where the farm answers, its stats page and API: the filter the roles and the proof use."""
        return farm_filters.farm_endpoints(self.hostvars[self.balancer_host], CONTRACT[self.balancer], self.backends)

    def setting(self, name: str):
        """A setting of the chosen balancer's role on the balancer host (inventory, else default)."""
        return farm_filters.farm_settings(self.hostvars[self.balancer_host], CONTRACT[self.balancer])[name]

    @property
    def haproxy_stats_port(self) -> int:
        """The port HAProxy's stats page takes on the balancer host when HAProxy runs."""
        return farm_filters.farm_endpoints(self.hostvars[self.balancer_host], CONTRACT["haproxy"])["stats"]["port"]

    @property
    def url(self) -> str:
        return self.endpoints["url"]

    def count(self, requests: int) -> collections.Counter:
        """Who answered each of `requests` requests to the farm, sent from the lab's client."""
        if self.lab_client:
            return count_backends_in_netns(self.lab_client["netns"], self.url, requests)
        return count_backends(self.url, requests)

    @property
    def shares(self) -> dict[str, float]:
        return self.endpoints["shares"]

    def host(self, name: str):
        import testinfra

        return testinfra.get_host(f"ansible://{name}", ansible_inventory=self.inventory)

    def ipvs_table(self) -> str:
        """The balancer host's IPVS table (ipvsadm -Ln)."""
        return self.host(self.balancer_host).check_output("ipvsadm -Ln")

    def ipvs_weight(self, name: str, table: str | None = None, https: bool = False) -> int | None:
        """The weight of a backend's real server in the IPVS table, None when it is not there: in the
        HTTP service, or with https in the HTTPS one (passed through to the backend's https_port)."""
        b = next(b for b in self.backends if b["name"] == name)
        port = b["https_port"] if https else b["port"]
        row = re.search(rf"->\s+{re.escape(b['address'])}:{port}\s+\S+\s+(\d+)", table or self.ipvs_table())
        return int(row.group(1)) if row else None

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

    @property
    def ca_file(self) -> Path:
        """The lab CA that roles/tls made for this scenario (tls_dir in .config/molecule/config.yml)."""
        return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "tls" / "ca.crt"


@functools.cache
def load_farm(inventory: str) -> Farm:
    from testinfra.utils.ansible_runner import AnsibleRunner

    runner = AnsibleRunner(inventory)
    hostvars = {name: runner.get_variables(name) for name in runner.get_hosts("all")}
    backends = runner.get_hosts("backends")
    balancers = runner.get_hosts("balancers")
    balancer = hostvars[balancers[0]].get("balancer", "haproxy") if balancers else ""
    swapped = side_effect_record("balancer")
    return Farm(
        inventory=inventory,
        hostvars=hostvars,
        backends=farm_filters.farm_backends(backends, hostvars) if backends else [],
        balancer=swapped or balancer,
        balancer_host=balancers[0] if balancers else "",
        lab_client=next(iter(hostvars.values()), {}).get("lab_client"),
        swapped=bool(swapped) and swapped != balancer,
        rebooted=bool(side_effect_record("rebooted")),
    )


def side_effect_record(name: str) -> str:
    """What a side effect recorded in the scenario's directory, if anything: "balancer", the one it
    swapped the farm to (molecule/resources/next_balancer.yml); "rebooted" (molecule/ipvs_single)."""
    record = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / name
    return record.read_text().strip() if record.exists() else ""


@pytest.fixture(scope="session")
def farm(request) -> Farm:
    inventory = request.config.option.ansible_inventory
    if not inventory:
        pytest.skip("no Ansible inventory: these tests run under Molecule (molecule verify)")
    farm = load_farm(inventory)
    if farm.endpoints.get("https_url") or farm.ca_file.exists():
        trust(farm.ca_file)  # every https request of the tests verifies against the lab CA
    return farm


def adapter_of(path: Path) -> str:
    """The balancer whose adapter's testinfra suite holds this test file (roles/<name>_lb/tests), or ""."""
    role = path.parent.parent
    own = path.parent.name == "tests" and role.parent == ROLES and role.name.endswith("_lb")
    return role.name.removesuffix("_lb") if own else ""


def pytest_collection_modifyitems(config, items) -> None:
    """An adapter's own suite (roles/<name>_lb/tests) checks one balancer's own parts: it runs where
    the farm runs that balancer and is deselected elsewhere (a scenario that swaps its balancer
    verifies each balancer in turn with the same list of files)."""
    inventory = getattr(config.option, "ansible_inventory", None)
    own = [item for item in items if adapter_of(item.path)]
    if not inventory or not own:
        return
    balancer = load_farm(inventory).balancer
    other = [item for item in own if adapter_of(item.path) != balancer]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]


@dataclass
class Run:
    rc: int
    output: str
    seconds: float


@pytest.fixture(scope="session")
def playbook(farm):
    """Run a playbook of the repository against the scenario's hosts: playbook("backend.yml", backend="m1")."""

    def run(name: str, *args: str, check: bool = True, **extra: str) -> Run:
        # the repository's ansible.cfg, not Molecule's; the scenario's hosts are its own containers or
        # VMs, whose host keys come with a throw-away image: not checked (as Molecule does)
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
        command = ["ansible-playbook", "-i", farm.inventory, str(REPO / name)]
        command += ["-e", f"balancer={farm.balancer}"] if farm.swapped else []
        command += args
        for key, value in extra.items():
            command += ["-e", f"{key}={value}"]
        start = time.monotonic()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # Molecule forces colour
        result = Run(done.returncode, output, time.monotonic() - start)
        if check and result.rc != 0:
            pytest.fail(f"{' '.join(command)} failed (rc {result.rc}):\n{result.output[-4000:]}")
        return result

    return run
