"""The balancer contract (lookup_plugins/balancers.py): the registry, each adapter's meta/balancer.yml
and entry points, one way through the house (no adapter calls the dispatcher back, no role reads
another's files), and a new balancer that is its own folder plus one line of the registry."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleLookupError

from filter_plugins import farm
from lookup_plugins import balancers

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
CONTRACT = balancers.contract()
BALANCERS = list(CONTRACT)
REGISTRY = ROLES / "balancer/meta/argument_specs.yml"
# The lifecycle that roles/balancer writes once for every daemon.
SHARED_STEPS = {"prepare", "start", "stop"}


def test_the_registry_is_every_adapter_and_only_those() -> None:
    adapters = sorted(path.parent.parent.name[: -len("_lb")] for path in ROLES.glob("*_lb/meta/balancer.yml"))
    assert sorted(BALANCERS) == adapters
    assert sorted(path.name for path in ROLES.glob("*_lb")) == [f"{name}_lb" for name in adapters]


def test_the_preflight_entry_point_offers_the_same_choices() -> None:
    options = yaml.safe_load(REGISTRY.read_text())["argument_specs"]
    assert options["preflight"]["options"]["balancer"]["choices"] == BALANCERS


@pytest.mark.parametrize("balancer", BALANCERS)
def test_no_adapter_repeats_the_shared_lifecycle(balancer: str) -> None:
    tasks = {p.stem for p in (ROLES / f"{balancer}_lb" / "tasks").glob("*.yml")}
    own = {"start", "stop"} if CONTRACT[balancer]["unit"] is None else set()
    assert tasks & (SHARED_STEPS - own) == set()


def includes_of(role: Path) -> list[str]:
    """The roles that the tasks of a role include or import."""
    found = []
    for path in sorted(role.glob("tasks/*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            for key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                if key in task:
                    found.append(f"{path.name}: {task[key]['name']}")
    return found


@pytest.mark.parametrize("balancer", BALANCERS)
def test_no_adapter_calls_the_dispatcher_or_another_role(balancer: str) -> None:
    # common is called one way, what every role shares: its package step
    assert [i for i in includes_of(ROLES / f"{balancer}_lb") if not i.endswith(": common")] == []


def test_common_calls_nothing_back() -> None:
    assert includes_of(ROLES / "common") == []


def test_one_package_step() -> None:
    apt = [p.relative_to(ROLES) for p in ROLES.rglob("tasks/*.yml") if "ansible.builtin.apt:" in p.read_text()]
    assert apt == [Path("common/tasks/packages.yml")]


def own_files_read_by_others() -> list[str]:
    """Places in the roles' and plugins' code that read a file of some role by its path."""
    reads = re.compile(r"lookup\('ansible\.builtin\.file'|read_text\(|open\(")
    found = []
    code = [p for p in [*ROLES.rglob("*.yml"), *ROLES.rglob("*.py")] if "tests" not in p.relative_to(ROLES).parts]
    for path in [*code, *(REPO / "filter_plugins").glob("*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "roles" in line and reads.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{path.relative_to(REPO)}:{number}")
    return found


def test_no_role_or_filter_reads_another_role_s_files() -> None:
    assert own_files_read_by_others() == []


def test_haproxy_s_drop_in_names_the_paths_its_role_uses() -> None:
    variables = yaml.safe_load((ROLES / "haproxy_lb/vars/main.yml").read_text())
    dropin = CONTRACT["haproxy"]["dropin"]
    assert f"{variables['_haproxy_lb_api']} --save {variables['_haproxy_lb_state_file']}" in dropin
    assert f"ExecStopPost=-/bin/rm -f {variables['_haproxy_lb_state_file']}" in dropin


# A throw-away adapter, "toy": a folder of its own and one word in the registry.
TOY_BALANCER = """---
unit: toy
files: [/etc/toy.conf]
reload: reloaded
health_checks: false
"""


def toy_tree(tmp_path: Path, **meta: str) -> Path:
    """A copy of the dispatcher and a new adapter roles/toy_lb beside it, registered in one line."""
    roles = tmp_path / "roles"
    shutil.copytree(ROLES / "balancer", roles / "balancer")
    registry = roles / "balancer/meta/argument_specs.yml"
    before = registry.read_text()
    registry.write_text(before.replace("ipvs, zevenet]", "ipvs, zevenet, toy]"))
    changed = [a for a, b in zip(before.splitlines(), registry.read_text().splitlines(), strict=True) if a != b]
    assert len(changed) == 1, "the registry is one line"
    for name in ("nginx", "haproxy", "gobetween", "ipvs", "zevenet"):
        shutil.copytree(ROLES / f"{name}_lb", roles / f"{name}_lb")
    toy = roles / "toy_lb"
    (toy / "tasks").mkdir(parents=True)
    (toy / "defaults").mkdir()
    (toy / "meta").mkdir()
    for step in balancers.ENTRY_POINTS:
        (toy / "tasks" / f"{step}.yml").write_text("---\n")
    (toy / "defaults/main.yml").write_text("---\ntoy_lb_port: 8000\ntoy_lb_stats: false\n")
    (toy / "meta/balancer.yml").write_text(meta.get("balancer", TOY_BALANCER))
    return roles


def test_a_new_balancer_is_its_folder_and_one_line_of_the_registry(tmp_path: Path) -> None:
    toy = balancers.contract(toy_tree(tmp_path))["toy"]
    assert toy["unit"] == "toy"
    assert toy["files"] == ["/etc/toy.conf"]
    assert (toy["reuseport"], toy["in_kernel"], toy["canary"], toy["dropin"]) == (False, False, None, "")
    assert toy["http2"] is False
    assert toy["tls_passthrough"] is False
    assert toy["defaults"] == {"port": 8000, "stats": False}
    # the model needs nothing of it but its contract: where the farm answers through it
    host = {"inventory_hostname": "m3", "lab_address": "192.168.56.4", "toy_lb_port": 8001}
    assert farm.farm_endpoints(host, toy)["url"] == "http://192.168.56.4:8001/"
    assert includes_of(tmp_path / "roles/toy_lb") == []


@pytest.mark.parametrize(
    ("meta", "said"),
    [
        ("---\nunit: toy\nrestart: true\n", "unknown key 'restart'"),
        ("---\nunit: toy\nreuseport: 'yes'\n", "reuseport='yes' has the wrong type"),
        ("---\nunit: toy\nreload: bounced\n", "reload='bounced': use one of reloaded, restarted"),
        ("---\nunit: toy\nfiles: [toy.conf]\n", "files=\\['toy.conf'\\] must be absolute paths"),
        ("---\nunit: toy\ncanary: {argv: [toy], user: root}\n", "canary.argv must name the new configuration"),
        ("---\nunit: null\n", "the contract needs tasks/start.yml"),
        ("---\nunit: toy\ncanary: {argv: [toy, '{canary_file}'], user: root}\n", "the contract needs tasks/canary.yml"),
        ("- unit\n", "must be a mapping"),
    ],
)
def test_a_malformed_adapter_is_refused_naming_its_file(tmp_path: Path, meta: str, said: str) -> None:
    roles = toy_tree(tmp_path, balancer=meta)
    with pytest.raises(AnsibleLookupError, match=said):
        balancers.contract(roles)


def test_an_adapter_lacking_an_entry_point_is_refused(tmp_path: Path) -> None:
    roles = toy_tree(tmp_path)
    (roles / "toy_lb/tasks/summary.yml").unlink()
    with pytest.raises(AnsibleLookupError, match=r"toy_lb: the contract needs tasks/summary\.yml"):
        balancers.contract(roles)


def test_a_registered_balancer_without_its_adapter_is_refused(tmp_path: Path) -> None:
    roles = toy_tree(tmp_path)
    shutil.rmtree(roles / "toy_lb")
    with pytest.raises(AnsibleLookupError, match=r"balancer 'toy' is in the registry but .* does not exist"):
        balancers.contract(roles)


def test_an_adapter_that_calls_the_dispatcher_back_is_caught(tmp_path: Path) -> None:
    roles = toy_tree(tmp_path)
    (roles / "toy_lb/tasks/configure.yml").write_text(
        "---\n- name: Circle\n  ansible.builtin.include_role:\n    name: balancer\n    tasks_from: dropin\n"
    )
    assert includes_of(roles / "toy_lb") == ["configure.yml: balancer"]


def test_the_lookup_gives_the_contract_or_the_entries_asked_for() -> None:
    lookup = balancers.LookupModule()
    assert lookup.run([]) == [CONTRACT]
    assert lookup.run(["ipvs", "nginx"]) == [CONTRACT["ipvs"], CONTRACT["nginx"]]
    with pytest.raises(AnsibleLookupError, match="balancer 'apache' is unknown: use one of nginx, haproxy"):
        lookup.run(["apache"])


def test_an_adapter_run_on_its_own_stops_naming_the_role_to_use(tmp_path: Path) -> None:
    playbook = tmp_path / "alone.yml"
    # the lab's inventory, whose m3 is not reached: the role stops before any task needs a host
    playbook.write_text("- hosts: m3\n  gather_facts: false\n  roles: [nginx_lb]\n")
    run = subprocess.run(
        ["ansible-playbook", "-i", "inventory/local", str(playbook)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    assert "nginx_lb is an adapter of the balancer role: use roles: [{role: balancer, balancer: nginx}]" in run.stdout
