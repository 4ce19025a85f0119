"""The zevenet_lb role against a real Zevenet appliance, when one is reachable.

Set LBFARM_ZEVENET_URL (https://APPLIANCE:444/zapi/v4.0/zapi.cgi) and LBFARM_ZEVENET_KEY (the zapi
user's key); optionally LBFARM_ZEVENET_VIP (default: the URL's host), LBFARM_ZEVENET_INVENTORY
(default: inventory/vbox, whose backends must already serve: site.yml has run) and
LBFARM_ZEVENET_FARM (default: lbfarm-test, removed at the end). From the repository:

    LBFARM_ZEVENET_URL=... LBFARM_ZEVENET_KEY=... .venv/bin/pytest roles/zevenet_lb/tests/test_appliance.py -v

Without the two variables every test is skipped (a skip, never a pass).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
from farmcheck import SHARE_TOLERANCE, count_backends  # noqa: E402

URL = os.environ.get("LBFARM_ZEVENET_URL", "")
KEY = os.environ.get("LBFARM_ZEVENET_KEY", "")
pytestmark = pytest.mark.skipif(
    not (URL and KEY),
    reason="no Zevenet appliance is reachable from these machines (LBFARM_ZEVENET_URL and LBFARM_ZEVENET_KEY unset)",
)
VIP = os.environ.get("LBFARM_ZEVENET_VIP") or urlsplit(URL).hostname or ""
INVENTORY = os.environ.get("LBFARM_ZEVENET_INVENTORY", str(REPO / "inventory" / "vbox"))
FARM = os.environ.get("LBFARM_ZEVENET_FARM", "lbfarm-test")
PORT = 80
REQUESTS = 40
RECAP = re.compile(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", re.MULTILINE)


def play(*steps: str, check: bool = False, **extra_vars: str) -> str:
    """ansible-playbook of the role's entry points on the inventory's balancer host.

    The ZAPI calls go from this machine; the key reaches Ansible through the environment only.
    """
    extra = {
        "zevenet_test_steps": list(steps),
        "zevenet_lb_url": URL,
        "zevenet_lb_vip": VIP,
        "zevenet_lb_farm": FARM,
        "zevenet_lb_port": PORT,
        "balancer": "zevenet",
        **extra_vars,
    }
    args = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        INVENTORY,
        str(Path(__file__).parent / "playbook.yml"),
        "-e",
        json.dumps(extra),
        "-e",
        "zevenet_lb_key={{ lookup('ansible.builtin.env', 'LBFARM_ZEVENET_KEY') }}",
        *(["--check"] if check else []),
    ]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert KEY not in done.stdout + done.stderr, "the ZAPI key was shown in Ansible's output"
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return done.stdout


def changed(output: str) -> int:
    """The changed tasks of the run, from its PLAY RECAP."""
    counts = [int(n) for n in RECAP.findall(output)]
    assert counts, output[-2000:]
    return sum(counts)


def expected_shares() -> dict[str, float]:
    """The share per backend the inventory's weights ask for (the proof's own filter)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.hostvars import HostVars
    from ansible.vars.manager import VariableManager

    from filter_plugins import farm

    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[INVENTORY])
    variables = VariableManager(loader=loader, inventory=inventory)
    for host in inventory.get_hosts():
        variables.set_host_variable(host.name, "balancer", "zevenet")
    hostvars = HostVars(inventory, variables, loader)
    return farm.farm_shares(farm.farm_backends(inventory.get_groups_dict()["backends"], hostvars))


def observed(url: str) -> dict[str, float]:
    counts: Counter = count_backends(url, REQUESTS)
    return {name: n / REQUESTS for name, n in counts.items()}


@pytest.fixture(scope="module")
def farm_url() -> Iterator[str]:
    """The farm configured and started from the inventory; removed from the appliance at the end."""
    try:
        play("preflight", "configure", "start", "summary")
        yield f"http://{VIP}:{PORT}/"
    finally:
        play("remove")


def test_traffic_through_the_vip_follows_the_weights(farm_url: str) -> None:
    wanted, seen = expected_shares(), observed(farm_url)
    assert set(seen) == set(wanted), seen
    for name, share in wanted.items():
        assert abs(seen[name] - share) <= SHARE_TOLERANCE * 2, (name, seen, wanted)  # 40 requests: coarse


def test_second_run_changes_nothing(farm_url: str) -> None:
    assert changed(play("configure", "start")) == 0


def test_check_mode_reports_a_change_and_makes_none(farm_url: str) -> None:
    output = play("configure", check=True, zevenet_lb_farmguardian="check_tcp")
    assert changed(output) == 1
    assert f"DELETE /farms/{FARM}/services/lbfarm/fg/check_http" in output
    assert changed(play("configure", check=True)) == 0


def test_drain_sends_everything_to_the_other_backends_and_ready_brings_it_back(farm_url: str) -> None:
    first = sorted(expected_shares())[0]
    play("state", lbfarm_backend=first, lbfarm_backend_state="drain")
    try:
        assert first not in observed(farm_url)
    finally:
        play("state", lbfarm_backend=first, lbfarm_backend_state="ready")
    assert first in observed(farm_url)
