"""The balancer contract as the tests read it: through the same reader as the roles and the benchmark."""

from __future__ import annotations

from lookup_plugins.balancers import contract

# Every balancer lbfarm knows, its adapter's entry of the contract, and the systemd unit that runs
# it (None: an appliance, off the balancer host).
CONTRACT: dict[str, dict] = contract()
UNITS: dict[str, str | None] = {name: adapter["unit"] for name, adapter in CONTRACT.items()}
BALANCERS = tuple(CONTRACT)
