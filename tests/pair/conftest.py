"""The pair of balancers under test: who holds the floating address, and how to break one."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

import pytest
from contract import UNITS


@dataclass
class Pair:
    farm: object  # conftest.py's Farm
    vip: str
    balancers: list[str]

    def holders(self) -> list[str]:
        """The balancers that have the floating address on a NIC (a paused one counts as not)."""
        found = []
        for name in self.balancers:
            try:
                out = self.farm.host(name).check_output(f"ip -o -4 addr show to {self.vip}/32")
            except Exception:  # a paused or stopped container cannot be asked
                continue
            if out.strip():
                found.append(name)
        return found

    def wait_for_holder(self, wanted: str | None = None, other_than: str | None = None, timeout: float = 15) -> str:
        """Wait until exactly one balancer holds the address (the wanted one, or any but other_than)."""
        deadline = time.monotonic() + timeout
        holders: list[str] = []
        while time.monotonic() < deadline:
            holders = self.holders()
            if len(holders) == 1 and holders[0] != other_than and wanted in (None, holders[0]):
                return holders[0]
            time.sleep(0.2)
        raise AssertionError(f"after {timeout} s the address {self.vip} is on {holders or 'no balancer'}")

    def state(self, name: str) -> str:
        """keepalived's VRRP state on a balancer (MASTER, BACKUP, FAULT, STOP) from its notify script."""
        return self.farm.host(name).check_output("cat /run/keepalived-lbfarm.state").strip()

    def diagnose(self, result) -> str:
        """What to read when a failover test fails: when things happened, and keepalived's journal."""
        lines = [f"marks (s since the load began): {result.marks}"]
        lines += [f"  failed {o.start:6.2f}-{o.end:6.2f} s {o.error}" for o in result.failures[:5]]
        lines += [f"  failed {o.start:6.2f}-{o.end:6.2f} s {o.error}" for o in result.failures[5:][-5:]]
        for name in self.balancers:
            journal = self.farm.host(name).run("journalctl -u keepalived --since -90s --no-pager -o short-precise")
            lines.append(f"--- keepalived on {name}:\n{journal.stdout[-3000:]}")
        neighbour = subprocess.run(["ip", "neigh", "show", self.vip], capture_output=True, text=True, check=False)
        lines.append(f"--- this machine's neighbour entry: {neighbour.stdout.strip()}")
        return "\n".join(lines)

    @property
    def unit(self) -> str:
        return UNITS[self.farm.balancer]

    @property
    def nopreempt(self) -> bool:
        return bool(self.farm.hostvars[self.balancers[0]].get("keepalived_vip_nopreempt", False))

    def container(self, name: str) -> str:
        return self.farm.hostvars[name].get("ansible_host", name)

    def docker(self, *args: str) -> None:
        subprocess.run(["docker", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def pair(farm) -> Pair:
    balancers = sorted(name for name, hv in farm.hostvars.items() if "balancers" in hv.get("group_names", []))
    vip = farm.hostvars[balancers[0]].get("lab_vip") if balancers else None
    if len(balancers) < 2 or not vip:
        pytest.skip("not a pair of balancers with a floating address (lab_vip)")
    return Pair(farm=farm, vip=vip, balancers=balancers)
