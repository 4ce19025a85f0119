"""The benchmark (playbooks/benchmark.yml, make bench) run on the scenario's farm, as a user runs it.

One short round: the farm's balancer and each backend loaded directly, from where the farm is
reached (this machine, or the VM lab's client namespace), with the CPU read on every farm host.
It checks what the report says, not how fast: no figure here depends on the machine's speed.
"""

import json

import pytest


@pytest.fixture(scope="module")
def report(farm, playbook, tmp_path_factory) -> dict:
    # before the run, which would load a balancer that is not there
    farm.require_running_balancer()
    if farm.balancer == "zevenet":
        pytest.skip("zevenet runs on its appliance: roles/zevenet_lb/tests checks it")
    out = tmp_path_factory.mktemp("benchmark")
    settings = {
        "benchmark_balancers": [farm.balancer],
        "benchmark_rounds": 1,
        "benchmark_requests": 300,
        "benchmark_warmup_requests": 50,
        "benchmark_concurrency": 10,
        # the farm runs its balancer already: no site.yml, as make bench after make lab
        "benchmark_converge_first": False,
        "benchmark_output_dir": str(out),
    }
    playbook("playbooks/benchmark.yml", "-e", json.dumps(settings))
    (run,) = out.glob("*/results.json")
    return {"run": json.loads(run.read_text()), "markdown": (run.parent / "report.md").read_text()}


def targets(report: dict) -> dict[str, dict]:
    return {t["name"]: t for t in report["run"]["targets"]}


def test_benchmark_loads_each_backend_and_the_balancer(report, farm) -> None:
    assert set(targets(report)) == {f"{b['name']} direct" for b in farm.backends} | {farm.balancer}
    for name, target in targets(report).items():
        assert target["requests_per_second"], f"{name} served nothing: {target['errors']}"
    assert [s["ab"]["complete_requests"] for s in report["run"]["samples"]] == [300] * len(targets(report))


def test_benchmark_counts_no_failed_request_through_the_balancer(report, farm) -> None:
    through = targets(report)[farm.balancer]
    assert (through["failed_requests"], through["non_2xx"]) == (0, 0), report["markdown"]
    assert all(t["non_2xx"] == 0 for t in targets(report).values()), report["markdown"]


def test_benchmark_started_on_the_running_farm_without_a_switch(report) -> None:
    assert [s["switch"] for s in report["run"]["samples"]] == [None] * len(report["run"]["samples"])


def test_benchmark_reads_the_cpu_of_the_balancer_and_of_apache(report, farm) -> None:
    through = targets(report)[farm.balancer]
    notes = sorted({n for s in report["run"]["samples"] for n in s["notes"]})
    assert notes == []
    # the balancer's unit; IPVS forwards in the kernel: its host's whole CPU (a VM of its own)
    medians = {component: (stats or {}).get("median", 0) for component, stats in through["cpu_us_per_request"].items()}
    assert min(medians.values()) > 0, medians
    assert through["balancer_in_kernel"] == (farm.balancer == "ipvs")


def test_benchmark_labels_where_the_farm_ran(report, farm) -> None:
    in_containers = "docker" in str(farm.hostvars[farm.balancer_host].get("ansible_connection", ""))
    wheres = {t["where"] for t in targets(report).values()}
    if in_containers:
        assert wheres == {"containers"}
        # containers share this machine's kernel: a balancer host's whole CPU is nobody's own
        assert targets(report)[farm.balancer]["balancer_host_us_per_request"] is None
    else:
        (where,) = wheres
        assert where.startswith("VMs"), where
        assert targets(report)[farm.balancer]["balancer_host_us_per_request"]["median"] > 0
        assert "| balancer host, whole |" in report["markdown"]
