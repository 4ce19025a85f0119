"""The benchmark (playbooks/benchmark.yml, make bench) run on the scenario's farm, as a user runs it.

One short round: the farm's balancer and each backend loaded directly, from where the farm is
reached (this machine, or the VM lab's client namespace), with the CPU read on every farm host.
It checks what the report says, not how fast: no figure here depends on the machine's speed.
"""

import json

import pytest
from contract import CONTRACT


@pytest.fixture(scope="module")
def report(farm, playbook, tmp_path_factory) -> dict:
    # before the run, which would load a balancer that is not there
    farm.require_running_balancer()
    if farm.balancer == "zevenet":
        pytest.skip("zevenet runs on its appliance: roles/zevenet_lb/tests checks it")
    only = farm.hostvars[farm.balancer_host].get("scenario_benchmark_balancers") or [farm.balancer]
    if farm.balancer not in only:
        pytest.skip(f"this scenario runs the benchmark on {', '.join(only)} only (scenario_benchmark_balancers)")
    out = tmp_path_factory.mktemp("benchmark")
    settings = {
        "benchmark_balancers": [farm.balancer],
        "benchmark_rounds": 1,
        "benchmark_requests": 300,
        "benchmark_handshake_requests": 300,
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


def over_tls(farm) -> set[str]:
    """The balancer's loads over TLS where it ends HTTPS: keep-alive HTTPS, a handshake per
    request, and HTTP/2 where its contract says it speaks it (not gobetween, which ends TLS at L4).
    None where it passes TLS through to the backends (IPVS): the TLS work is not the balancer's."""
    if not farm.endpoints.get("https_url") or CONTRACT[farm.balancer]["tls_passthrough"]:
        return set()
    h2 = {f"{farm.balancer} h2"} if CONTRACT[farm.balancer]["http2"] else set()
    return {f"{farm.balancer} https", f"{farm.balancer} TLS handshakes"} | h2


def test_benchmark_loads_each_backend_and_the_balancer(report, farm) -> None:
    expected = {f"{b['name']} direct" for b in farm.backends} | {farm.balancer} | over_tls(farm)
    assert set(targets(report)) == expected
    for name, target in targets(report).items():
        assert target["requests_per_second"], f"{name} served nothing: {target['errors']}"
    assert [s["load"]["complete_requests"] for s in report["run"]["samples"]] == [300] * len(targets(report))


def test_benchmark_counts_no_failed_request_through_the_balancer(report, farm) -> None:
    for name in {farm.balancer} | over_tls(farm):
        through = targets(report)[name]
        assert (through["failed_requests"], through["non_2xx"]) == (0, 0), report["markdown"]
    assert all(t["non_2xx"] == 0 for t in targets(report).values()), report["markdown"]


def test_benchmark_loads_over_tls_what_a_browser_negotiates(report, farm) -> None:
    if not over_tls(farm):
        pytest.skip(f"{farm.balancer} does not terminate HTTPS in lbfarm: plain HTTP only")
    by = targets(report)
    # ab and h2load negotiate TLS 1.3 with the balancer, and h2load HTTP/2 by ALPN
    for name in over_tls(farm):
        (negotiated,) = by[name]["tls"]
        assert negotiated.startswith("TLSv1.3 TLS_"), negotiated
    if f"{farm.balancer} h2" in by:
        assert by[f"{farm.balancer} h2"]["application_protocol"] == ["h2"]
    # each load over TLS is weighed against the balancer's plain HTTP of the same round
    assert all(by[name]["ratio_to_http"]["median"] > 0 for name in over_tls(farm))
    assert "Over TLS, each load beside its balancer's plain HTTP" in report["markdown"]
    assert f"- {farm.balancer} https kept " in report["markdown"]


def test_benchmark_reads_the_balancers_cpu_per_tls_handshake(report, farm) -> None:
    if not over_tls(farm):
        pytest.skip(f"{farm.balancer} does not terminate HTTPS in lbfarm: plain HTTP only")
    handshakes = targets(report)[f"{farm.balancer} TLS handshakes"]
    assert handshakes["cpu_us_per_request"]["balancer"]["median"] > 0
    # no keep-alive: each of its requests came on a new connection
    (sample,) = [s for s in report["run"]["samples"] if s["name"] == handshakes["name"]]
    assert (sample["load"]["keepalive_requests"], sample["load"]["complete_requests"]) == (0, 300)


def test_benchmark_started_on_the_running_farm_without_a_switch(report) -> None:
    assert [s["switch"] for s in report["run"]["samples"]] == [None] * len(report["run"]["samples"])


def test_benchmark_reads_the_cpu_of_the_balancer_and_of_apache(report, farm) -> None:
    through = targets(report)[farm.balancer]
    # (a balancer's own count beside the client's is test_the_balancers_own_count_is_the_clients')
    notes = sorted({n for s in report["run"]["samples"] for n in s["notes"] if "the balancer counted" not in n})
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


def test_the_balancers_own_count_is_the_clients(report, farm) -> None:
    """Where the balancer counts its requests (the contract's requests_counter), each load through it
    is counted by the balancer as by the client: HAProxy's frontend exactly; nginx's stub_status with
    its exporter's reads, when Prometheus scraped it during the load."""
    if not CONTRACT[farm.balancer]["requests_counter"]:
        pytest.skip(f"{farm.balancer} has no request counter of its own in lbfarm's contract")
    through = [s for s in report["run"]["samples"] if s["kind"] != "direct"]
    assert through, report["markdown"]
    for s in through:
        sent = s["load"]["complete_requests"]
        if farm.balancer == "haproxy":
            assert s["balancer_counted"] == sent, (s["name"], s["balancer_counted"], sent, s["notes"])
        else:  # at most one exporter read a second on top, at the lab's fastest scrapes
            assert sent <= s["balancer_counted"] <= sent + 10, (s["name"], s["balancer_counted"], sent, s["notes"])
    assert "the balancers' own request counts" in report["markdown"]
