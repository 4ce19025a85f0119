"""The benchmark's program in its role: the farms a run loads, where the role says each answers
(farm_endpoints in roles/benchmark/vars/main.yml), the units from the balancer contract, and the
helpers bench_plan, bench_parse_counters, bench_sample, bench_verdict and bench_markdown are made of."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleError, AnsibleFilterError
from benchmark_role import bench, role_var
from benchmark_role import targets as role_targets

DATA = Path(__file__).parent / "data"
HOSTS = {"balancers": ["m3"], "backends": ["m1", "m2"]}
UNITS = {"backend": "apache2", "balancers": {"nginx": "nginx", "ipvs": "lbfarm-ipvs"}}
BACKENDS = [{"name": "m1", "address": "10.0.0.2", "port": 80}, {"name": "m2", "address": "10.0.0.3", "port": 80}]
M3 = {"inventory_hostname": "m3", "lab_address": "10.0.0.4"}
VARIANT = {"name": "nginx on 8080", "balancer": "nginx", "vars": {"nginx_lb_port": 8080}}


# --- the farms and where they answer --------------------------------------------------------


def test_farms_are_the_balancers_then_the_variants_with_their_site_yml_variables() -> None:
    assert bench.bench_farms(["nginx", "ipvs"], [VARIANT]) == [
        {"name": "nginx", "vars": {"balancer": "nginx"}},
        {"name": "ipvs", "vars": {"balancer": "ipvs"}},
        {"name": "nginx on 8080", "vars": {"nginx_lb_port": 8080, "balancer": "nginx"}},
    ]
    assert bench.bench_farms() == []


def test_a_farm_of_a_balancer_the_contract_does_not_know_is_an_error() -> None:
    contract = {"nginx": {}, "haproxy": {}}
    assert bench.bench_farms(["nginx"], [VARIANT], contract)[1]["name"] == "nginx on 8080"
    with pytest.raises(AnsibleFilterError, match=r"balancer 'nginx2' is unknown: use one of nginx, haproxy"):
        bench.bench_farms(["nginx"], [{**VARIANT, "balancer": "nginx2"}], contract)


def test_the_role_refuses_a_balancer_the_contract_does_not_know() -> None:
    with pytest.raises(AnsibleError, match=r"balancer 'apache' is unknown: use one of .*nginx"):
        role_var("_benchmark_farms", M3, benchmark_balancers=["nginx", "apache"])


class Reads(Mapping):
    """A host's variables that note which of them were read (Ansible templates each on access)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values, self.read = values, set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the whole of a host's variables is never read")

    def __len__(self) -> int:
        return len(self.values)


def test_overlay_puts_a_farms_variables_over_the_hosts_and_reads_only_those_asked_for() -> None:
    host = Reads({"nginx_lb_port": 80, "lab_address": "10.0.0.4", "broken": "{{ undefined }}"})
    seen = bench.bench_overlay(host, {"nginx_lb_port": 8080, "balancer": "nginx"})
    assert (seen["nginx_lb_port"], seen["lab_address"], seen["balancer"]) == (8080, "10.0.0.4", "nginx")
    assert "ipvs_lb_vip" not in seen
    # the farm's port hides the host's, and the rest is not read at all
    assert host.read == {"lab_address", "ipvs_lb_vip"}
    assert bench.bench_overlay(host)["lab_address"] == "10.0.0.4"


def test_the_role_finds_where_the_farm_answers_for_each_farm() -> None:
    farms = bench.bench_farms(["nginx", "ipvs"], [VARIANT])
    urls = role_var("_benchmark_farm_urls", {**M3, "ipvs_lb_vip": "10.0.1.1"}, _benchmark_farms=farms)
    assert dict(urls) == {
        "nginx": {"url": "http://10.0.0.4:80/", "https_url": "https://10.0.0.4:443/", "http2": True},
        # IPVS forwards TCP: no HTTPS of its own
        "ipvs": {"url": "http://10.0.1.1:80/", "https_url": None, "http2": False},
        "nginx on 8080": {"url": "http://10.0.0.4:8080/", "https_url": "https://10.0.0.4:443/", "http2": True},
    }
    assert dict(role_var("_benchmark_farm_urls", M3, _benchmark_farms=[])) == {}


def test_targets_take_each_farms_url_and_the_page() -> None:
    farms = bench.bench_farms(["nginx"])
    (target,) = bench.bench_targets(BACKENDS, farms, {"nginx": {"url": "http://10.0.0.4:80/"}}, "/swap.html", False)
    assert target == {
        "name": "nginx",
        "kind": "balancer",
        "mode": "http",
        "farm": "nginx",
        "url": "http://10.0.0.4:80/swap.html",
        "vars": farms[0]["vars"],
    }
    assert target["vars"] is not farms[0]["vars"]
    with pytest.raises(AnsibleFilterError, match=r"no URL for 'nginx'"):
        bench.bench_targets(BACKENDS, farms, {"haproxy": {"url": "http://10.0.0.4:80/"}})


# --- the units from the contract ------------------------------------------------------------


def test_the_role_reads_each_balancers_unit_and_whether_it_forwards_in_the_kernel() -> None:
    units = role_var("_benchmark_units", M3)
    assert units["backend"] == "apache2"
    assert (units["balancers"]["nginx"], units["balancers"]["ipvs"]) == ("nginx", "lbfarm-ipvs")
    assert (units["in_kernel"]["ipvs"], units["in_kernel"]["nginx"]) == (True, False)
    steps = bench.bench_plan(role_targets(BACKENDS, M3, ["ipvs", "nginx"]), 1, HOSTS, units)
    reads = {s["target"]["name"]: s["reads"][0] for s in steps}
    assert reads["ipvs"] == {"host": "m3", "role": "balancer", "unit": "lbfarm-ipvs", "scope": "host"}
    # and with the command of its own request count, where the contract gives one (not IPVS)
    assert reads["nginx"] == {"host": "m3", "role": "balancer", "unit": "nginx", "counter": units["counters"]["nginx"]}
    assert units["counters"]["nginx"] == "/usr/local/sbin/lbfarm-nginx-requests"


@pytest.mark.parametrize(
    ("in_kernel", "expected"),
    [
        (["ipvs"], True),
        (("ipvs",), True),
        ({"ipvs": True, "nginx": False}, True),
        ({"ipvs": False}, False),
        (None, False),
    ],
)
def test_kernel_balancers_come_as_names_or_as_flags(in_kernel: Any, expected: bool) -> None:
    assert bench._in_kernel("ipvs", in_kernel) is expected
    assert bench._in_kernel("nginx", in_kernel) is False


def test_no_unit_for_a_balancer_names_the_contract() -> None:
    with pytest.raises(AnsibleFilterError, match=r"add it to the balancer contract \(lookup balancers\)"):
        bench._balancer_unit("zevenet", {"balancers": {"zevenet": None}})


# --- the plan, block by block ---------------------------------------------------------------


def test_a_block_warms_up_each_direct_target_once_and_its_balancer_when_set_up() -> None:
    directs = [{"name": f"{b['name']} direct", "kind": "direct", "url": b["name"]} for b in BACKENDS]
    nginx = {"name": "nginx", "kind": "balancer", "url": "nginx", "vars": {"balancer": "nginx"}}
    planner = bench._Planner(2, HOSTS, UNITS, directs, current="nginx")
    first, again = planner.block(0, nginx), planner.block(1, nginx)
    # the farm runs nginx already: no switch, but the run's first block warms it up
    assert (first[0]["switch"], first[0]["warmup"]) == (None, ["m1", "m2", "nginx"])
    assert [s["warmup"] for s in first[1:]] == [[], []]
    assert (again[0]["switch"], again[0]["warmup"], again[0]["block"]) == (None, [], 1)
    assert [s["target"]["name"] for s in again] == ["m2 direct", "nginx", "m1 direct"]


# --- counters -------------------------------------------------------------------------------


def test_counters_are_cut_into_sections() -> None:
    sections = bench._sections("noise\r\n== boot_id\r\nabc\n== unit nginx none\n== switches\nvoluntary 3\n")
    assert sections == {"boot_id": ["abc"], "unit nginx none": [], "switches": ["voluntary 3"]}
    assert (bench._first(sections, "boot_id"), bench._first(sections, "netns")) == ("abc", None)


def test_tcp_counters_need_names_and_values_alike() -> None:
    assert bench._tcp(["Tcp: ActiveOpens PassiveOpens", "Tcp: 1 525", "Udp: 4"]) == {
        "ActiveOpens": 1,
        "PassiveOpens": 525,
    }
    assert bench._tcp(["Tcp: ActiveOpens PassiveOpens", "Tcp: 1"]) == {}
    assert bench._tcp(["Tcp: ActiveOpens PassiveOpens"]) == {}


def test_cgroup_v2_cpu_time_wins_over_v1_in_either_order() -> None:
    v1 = "== cgroup1 /sys/fs/cgroup/cpuacct/x/cpuacct.usage\n5000000\n"
    v2 = "== cgroup2 /sys/fs/cgroup/x/cpu.stat\nusage_usec 42\n"
    for text in (v1 + v2, v2 + v1):
        assert (bench.bench_parse_counters(text)["cpu_usec"], bench.bench_parse_counters(text)["cpu_source"]) == (
            42,
            "cgroup2",
        )
    assert bench.bench_parse_counters(v1)["cpu_usec"] == 5000


def test_a_stat_section_without_two_cpu_lines_gives_no_host_cpu() -> None:
    assert bench._section("stat", ["cpu  1 2 3 4 5 6 7 8"], {}, None) == {}
    assert bench._section("stat", ["cpu  1 0 0 0 0 0 0 0", "cpu  2 0 0 0 0 0 0 0"], {"clk_tck": ["100"]}, None) == {
        "host_cpu_usec_first": 10000,
        "host_cpu_usec_last": 20000,
    }


# --- one load's CPU -------------------------------------------------------------------------


READ = {"host": "m1", "role": "backend", "unit": "apache2"}


def counters(cpu: int | None, cgroup: str = "/a", switches: int | None = 10, opens: int = 5) -> dict[str, Any]:
    return {
        "boot_id": "b1",
        "netns": "n1",
        "cgroup": cgroup,
        "cpu_usec": cpu,
        "voluntary_switches": switches,
        "tcp": {"PassiveOpens": opens},
    }


def test_a_units_cpu_over_a_load_or_why_not() -> None:
    assert bench._cpu_delta(READ, counters(100), counters(350)) == (250, None)
    assert bench._cpu_delta(READ, counters(350), counters(100)) == (
        None,
        "apache2 on m1 restarted during the load: its CPU is not counted",
    )
    assert bench._cpu_delta(READ, counters(100), counters(350, "/b")) == (
        None,
        "no CPU time for apache2 on m1: its unit has no cgroup CPU time",
    )
    assert bench._cpu_delta(READ, {"error": "not read"}, counters(350)) == (
        None,
        "no CPU time for apache2 on m1: not read",
    )


def test_a_load_counts_a_backend_and_loses_switches_that_fell() -> None:
    load = bench._Load(100, through_balancer=True)
    load.count_unit(READ, counters(100, switches=10, opens=5), counters(1100, switches=60, opens=25))
    assert (load.totals["backends"], load.switches, load.opens, load.backend_cpu) == (
        1000,
        50,
        20,
        {"m1 apache2": 1000},
    )
    # the same cgroup read again (two inventory hosts on one machine) counts once
    load.count_unit({**READ, "host": "m2"}, counters(100), counters(1100))
    assert (load.totals["backends"], load.by_unit) == (1000, {"m1 apache2": 10.0})
    load.count_backend(counters(0, switches=60), counters(0, switches=10))
    assert load.switches is None
    load.count_backend(counters(0, switches=0), counters(0, switches=90))
    assert load.switches is None


def test_a_load_puts_only_the_components_read_whole_in_its_sample() -> None:
    load = bench._Load(100, through_balancer=False)
    load.count_unit({**READ, "role": "balancer", "unit": "nginx"}, counters(0), counters(500))
    load.count_unit(READ, counters(0, "/apache"), counters(2000, "/apache"))
    load.count_unit({**READ, "host": "m2"}, {"error": "gone"}, counters(100, "/m2"))
    sample = {
        "notes": [],
        "cpu_us_per_request_by_unit": {},
        "cpu_us_per_request": dict.fromkeys(bench.COMPONENTS),
        "backend_shares": {},
        "backend_voluntary_switches_per_request": None,
        "backend_new_connections_per_1000": None,
    }
    load.figures(sample)
    assert sample["cpu_us_per_request"] == {"client": None, "balancer": 5.0, "backends": None}
    assert sample["notes"] == ["no CPU time for apache2 on m2: gone"]
    assert sample["cpu_us_per_request_by_unit"] == {"m1 nginx": 5.0, "m1 apache2": 20.0}
    assert (sample["backend_shares"], sample["backend_voluntary_switches_per_request"]) == ({}, None)


# --- the verdict and the report -------------------------------------------------------------


def ratio(median: float) -> dict[str, float]:
    return {"median": median, "min": median, "max": median, "n": 1}


def test_a_pair_is_ranked_by_its_rounds_side_by_side_before_its_medians() -> None:
    a = {"name": "a", "ratio_to_direct": ratio(0.9)}
    b = {"name": "b", "ratio_to_direct": ratio(0.8)}
    by_medians = bench._ranked(b, a, [])
    assert (by_medians[0]["name"], by_medians[1]["name"], by_medians[2]) == ("a", "b", None)
    # round by round b served more than a, whatever their medians say
    samples = [
        {"name": "a", "round": 1, "ratio_to_direct": 0.5},
        {"name": "b", "round": 1, "ratio_to_direct": 0.6},
    ]
    first, second, paired = bench._ranked(a, b, samples)
    assert (first["name"], second["name"], paired["median"]) == ("b", "a", 1.2)
    assert bench._served(first, second, paired) == (f"b served 1.20{bench.TIMES} a", "range 1.20-1.20 over 1 round")
    assert bench._served(a, b, None) == (f"a served 1.12{bench.TIMES} b", "no round where both served")


def test_the_report_leaves_out_wrk_when_it_did_not_run_and_notes_emulation() -> None:
    assert bench._md_wrk([{"name": "nginx", "wrk_requests_per_second": None}]) == []
    assert bench._md_notes([], ["containers"]) == []
    notes = bench._md_notes([{"step": 2, "name": "nginx", "notes": ["n"], "left_out": "why"}], ["VMs, emulated (TCG)"])
    assert notes[:5] == ["", "Notes:", "", "- n", "- load 2 (nginx): why"]
    assert notes[5].startswith("- Under emulation (TCG)")
