"""Rounds, cgroup readers, CPU per request, aggregation and verdict of the benchmark's filters
(roles/benchmark/filter_plugins/benchmark.py).

The counters are what roles/benchmark/files/counters.sh printed on the local lab's containers
around a real ab run (tests/unit/data/cgroups.md says where each file comes from).
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from benchmark_role import bench
from benchmark_role import targets as role_targets

DATA = Path(__file__).parent / "data"
HOSTS = {"balancers": ["m3"], "backends": ["m1", "m2"]}
UNITS = {"backend": "apache2", "balancers": {"nginx": "nginx", "haproxy": "haproxy", "ipvs": "lbfarm-ipvs"}}
BACKENDS = [{"name": "m1", "address": "10.0.0.2", "port": 80}, {"name": "m2", "address": "10.0.0.3", "port": 80}]
M3 = {"inventory_hostname": "m3", "lab_address": "10.0.0.4"}


def sample(name: str) -> str:
    return (DATA / name).read_text()


def targets(balancers=("nginx", "haproxy"), direct=True, tls=()) -> list[dict]:
    return role_targets(BACKENDS, M3, list(balancers), [], "/swap.html", direct, tls)


def plan(rounds: int = 3, **kwargs) -> list[dict]:
    return bench.bench_plan(targets(**kwargs), rounds, HOSTS, UNITS)


def order(steps: list[dict]) -> list[tuple[int, str]]:
    return [(s["round"], s["target"]["name"]) for s in steps]


# --- rounds ---------------------------------------------------------------------------------


def test_rotate() -> None:
    assert bench.bench_rotate("abc", 1) == ["b", "c", "a"]
    assert bench.bench_rotate("abc", 4) == ["b", "c", "a"]
    assert bench.bench_rotate([], 2) == []


def test_every_round_loads_each_balancer_once_beside_the_direct_targets() -> None:
    steps = plan(3)
    assert len(steps) == 3 * 2 * 3  # rounds x blocks x (two backends + the balancer)
    for r in (1, 2, 3):
        names = [name for rnd, name in order(steps) if rnd == r]
        assert sorted(names) == sorted(["m1 direct", "m2 direct", "nginx"] * 1 + ["m1 direct", "m2 direct", "haproxy"])
    blocks = {}
    for s in steps:
        blocks.setdefault(s["block"], []).append(s["target"]["name"])
    assert all(len(members) == 3 and {"m1 direct", "m2 direct"} < set(members) for members in blocks.values())


def test_rounds_rotate_which_balancer_goes_first_and_the_order_inside_a_block() -> None:
    steps = plan(3)
    firsts = [next(s["farm"] for s in steps if s["round"] == r) for r in (1, 2, 3)]
    assert firsts == ["nginx", "haproxy", "nginx"]
    assert order(steps)[:9] == [
        (1, "m1 direct"), (1, "m2 direct"), (1, "nginx"),
        (1, "m1 direct"), (1, "m2 direct"), (1, "haproxy"),
        (2, "m2 direct"), (2, "haproxy"), (2, "m1 direct"),
    ]  # fmt: skip


def test_a_round_starts_on_the_set_up_the_last_one_ended_on() -> None:
    steps = bench.bench_plan(targets(("nginx", "haproxy", "ipvs")), 3, HOSTS, UNITS)
    switches = [s["switch"]["balancer"] for s in steps if s["switch"]]
    assert switches == ["nginx", "haproxy", "ipvs", "nginx", "haproxy", "ipvs", "nginx"]  # 9 blocks, 7 switches
    firsts = [next(s["farm"] for s in steps if s["round"] == r) for r in (1, 2, 3)]
    assert firsts == ["nginx", "ipvs", "haproxy"]  # each goes first once


def test_switch_at_the_start_of_a_block_and_warm_up_after_it() -> None:
    steps = plan(2)
    assert [(s["step"], s["switch"]) for s in steps if s["switch"]] == [
        (1, {"balancer": "nginx"}),
        (4, {"balancer": "haproxy"}),
        (10, {"balancer": "nginx"}),
    ]
    assert steps[0]["warmup"] == [
        "http://10.0.0.2:80/swap.html",
        "http://10.0.0.3:80/swap.html",
        "http://10.0.0.4:80/swap.html",
    ]
    assert steps[3]["warmup"] == ["http://10.0.0.4:80/swap.html"]  # the directs warmed once
    assert steps[6]["warmup"] == []  # haproxy still up: round 2 starts where round 1 ended
    assert [s["step"] for s in steps] == list(range(1, 13))
    assert {s["steps"] for s in steps} == {12}


def test_run_ends_on_the_inventory_balancer_when_asked() -> None:
    steps = bench.bench_plan(targets(), 3, HOSTS, UNITS, "haproxy")
    assert steps[-1]["farm"] == "haproxy"
    assert bench.bench_plan(targets(), 3, HOSTS, UNITS, "nginx")[-1]["farm"] == "nginx"
    assert bench.bench_plan(targets(), 3, HOSTS, UNITS, "gobetween")[-1]["farm"] == "haproxy"


def test_a_run_starts_on_the_balancer_the_farm_runs_without_setting_it_up() -> None:
    three = targets(("nginx", "haproxy", "ipvs"))
    steps = bench.bench_plan(three, 3, HOSTS, UNITS, "ipvs", "ipvs")
    assert (steps[0]["farm"], steps[0]["switch"], steps[-1]["farm"]) == ("ipvs", None, "ipvs")
    assert [s["switch"]["balancer"] for s in steps if s["switch"]] == ["nginx", "haproxy", "ipvs"] * 2  # 6, not 7
    # still warmed up: the proof of site.yml is all the traffic it has had
    assert steps[0]["warmup"] == [
        "http://10.0.0.2:80/swap.html",
        "http://10.0.0.3:80/swap.html",
        "http://192.168.100.1:80/swap.html",
    ]
    # unknown (None) or another balancer: the first block sets the farm up
    assert bench.bench_plan(three, 3, HOSTS, UNITS, "ipvs")[0]["switch"] is not None
    assert bench.bench_plan(three, 3, HOSTS, UNITS, "ipvs", "gobetween")[0]["switch"] is not None


def test_a_variant_is_set_up_even_when_its_balancer_runs() -> None:
    variant = [{"name": "nginx keepalive 3", "balancer": "nginx", "vars": {"nginx_lb_keepalive": 3}}]
    steps = bench.bench_plan(role_targets(BACKENDS, M3, [], variant), 1, HOSTS, UNITS, None, "nginx")
    assert steps[0]["switch"] == {"nginx_lb_keepalive": 3, "balancer": "nginx"}


def test_a_kernel_balancer_is_read_as_its_hosts_whole_cpu() -> None:
    units = {**UNITS, "in_kernel": ["ipvs"]}
    steps = bench.bench_plan(targets(("ipvs", "nginx")), 1, HOSTS, units)
    by_name = {s["target"]["name"]: s["reads"][0] for s in steps}
    assert by_name["ipvs"] == {"host": "m3", "role": "balancer", "unit": "lbfarm-ipvs", "scope": "host"}
    assert by_name["nginx"] == {"host": "m3", "role": "balancer", "unit": "nginx"}


def test_reads_are_the_balancer_unit_and_apache_on_every_backend() -> None:
    steps = plan(1)
    by_name = {s["target"]["name"]: s["reads"] for s in steps}
    assert by_name["m1 direct"] == [
        {"host": "m1", "role": "backend", "unit": "apache2"},
        {"host": "m2", "role": "backend", "unit": "apache2"},
    ]
    assert by_name["haproxy"][0] == {"host": "m3", "role": "balancer", "unit": "haproxy"}


def test_direct_only_and_balancers_only() -> None:
    assert order(plan(2, balancers=())) == [(1, "m1 direct"), (1, "m2 direct"), (2, "m2 direct"), (2, "m1 direct")]
    steps = plan(2, direct=False)
    assert order(steps) == [(1, "nginx"), (1, "haproxy"), (2, "haproxy"), (2, "nginx")]
    assert [s["step"] for s in steps if s["switch"]] == [1, 2, 4]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([], 3, HOSTS, UNITS), "no targets"),
        ((targets(), 0, HOSTS, UNITS), "must be 1 or more"),
        ((targets(), 1, HOSTS, {"backend": "apache2", "balancers": {}}), "no systemd unit for the balancer 'nginx'"),
    ],
)
def test_bad_plans_are_errors(args: tuple, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        bench.bench_plan(*args)


# --- cgroup and counter readers -------------------------------------------------------------


def test_cgroup_v2_cpu_stat() -> None:
    assert bench.read_cpu_stat(sample("cgroup_v2_cpu.stat")) == 709001


def test_cgroup_v1_cpuacct_usage_is_nanoseconds() -> None:
    assert bench.read_cpuacct_usage(sample("cgroup_v1_cpuacct.usage")) == 1643880102


def test_unreadable_cgroup_files_are_errors() -> None:
    with pytest.raises(AnsibleFilterError, match="no usage_usec"):
        bench.read_cpu_stat("user_usec 1\n")
    with pytest.raises(AnsibleFilterError, match="not nanoseconds"):
        bench.read_cpuacct_usage("max\n")


def test_counters_of_a_backend() -> None:
    counters = bench.bench_parse_counters(sample("counters_m1_before.txt"))
    assert counters["cpu_usec"] == 403072
    assert counters["cpu_source"] == "cgroup2"
    assert counters["unit"] == "apache2"
    assert counters["cgroup"].endswith("/system.slice/apache2.service")
    assert counters["virt"] == "docker"
    assert counters["netns"] == "net:[4026532185]"
    assert counters["tcp"]["PassiveOpens"] == 525
    assert (counters["voluntary_switches"], counters["nonvoluntary_switches"]) == (3452, 633)


def v1_counters(usage_ns: int) -> str:
    """counters.sh's output on a cgroup v1 host where systemd keeps a cpuacct group per unit."""
    head = sample("counters_m1_before.txt").split("== unit")[0]
    return (
        head + "== unit apache2 /system.slice/apache2.service\n"
        "== cgroup1 /sys/fs/cgroup/cpuacct/system.slice/apache2.service/cpuacct.usage\n"
        f"{usage_ns}\n"
    )


def test_counters_of_a_cgroup_v1_host() -> None:
    counters = bench.bench_parse_counters(v1_counters(int(sample("cgroup_v1_cpuacct.usage"))))
    assert (counters["cpu_usec"], counters["cpu_source"]) == (1643880102, "cgroup1")
    assert counters["voluntary_switches"] is None


def test_counters_of_a_unit_without_a_cgroup() -> None:
    text = sample("counters_m3_before.txt").split("== unit")[0] + "== unit lbfarm-ipvs none\r\n"
    counters = bench.bench_parse_counters(text)
    assert (counters["unit"], counters["cgroup"], counters["cpu_usec"]) == ("lbfarm-ipvs", None, None)


# --- one sample -----------------------------------------------------------------------------


def registered(when: str, hosts=("m3", "m1", "m2"), text=None) -> dict:
    units = {"m3": "haproxy", "m1": "apache2", "m2": "apache2"}
    return {
        "results": [
            {
                "item": {"host": h, "unit": units[h], "role": "balancer" if h == "m3" else "backend"},
                "rc": 0,
                "stdout": text(h) if text else sample(f"counters_{h}_{when}.txt"),
            }
            for h in hosts
        ]
    }


def haproxy_step() -> dict:
    return next(s for s in plan(1) if s["target"]["name"] == "haproxy")


def test_sample_gives_cpu_per_request_per_component() -> None:
    s = bench.bench_sample(haproxy_step(), sample("ab_timed.txt"), registered("before"), registered("after"))
    assert s["load"]["complete_requests"] == 2000
    # client 0.005 + 0.013 s; m3 haproxy 56 004 µs; m1 118 150 + m2 73 907 µs, over 2000 requests
    assert s["cpu_us_per_request"] == {"client": 9.0, "balancer": 28.0, "backends": 96.03}
    assert s["cpu_us_per_request_by_unit"] == {"m3 haproxy": 28.0, "m1 apache2": 59.08, "m2 apache2": 36.95}
    assert s["backend_new_connections_per_1000"] == 13.5  # (19 + 8) new connections to the backends
    assert s["backend_voluntary_switches_per_request"] == 2.12
    assert (s["where"], s["name"], s["round"], s["notes"]) == ("containers", "haproxy", 1, [])


def test_a_unit_shared_by_two_inventory_hosts_counts_once() -> None:
    step = haproxy_step()
    step["reads"][2] = {**step["reads"][1], "host": "m2"}
    same = registered(
        "before", text=lambda h: sample("counters_m1_before.txt" if h != "m3" else "counters_m3_before.txt")
    )
    after = registered(
        "after", text=lambda h: sample("counters_m1_after.txt" if h != "m3" else "counters_m3_after.txt")
    )
    s = bench.bench_sample(step, sample("ab_timed.txt"), same, after)
    assert s["cpu_us_per_request"]["backends"] == 59.08
    assert s["backend_new_connections_per_1000"] == 9.5


def test_a_unit_without_cpu_time_leaves_its_component_unmeasured() -> None:
    def no_cgroup(h: str) -> str:
        text = sample(f"counters_{h}_before.txt")
        return text.split("== unit")[0] + "== unit lbfarm-ipvs none\n" if h == "m3" else text

    s = bench.bench_sample(
        haproxy_step(), sample("ab_timed.txt"), registered("before", text=no_cgroup), registered("after")
    )
    assert s["cpu_us_per_request"]["balancer"] is None
    assert s["cpu_us_per_request"]["backends"] == 96.03
    assert s["notes"] == ["no CPU time for haproxy on m3: its unit has no cgroup CPU time"]


def test_a_unit_restarted_during_the_load_is_not_counted() -> None:
    s = bench.bench_sample(haproxy_step(), sample("ab_timed.txt"), registered("after"), registered("before"))
    assert s["cpu_us_per_request"] == {"client": 9.0, "balancer": None, "backends": None}
    assert "haproxy on m3 restarted during the load: its CPU is not counted" in s["notes"]


def test_an_unreachable_host_is_a_note() -> None:
    gone = registered("after")
    gone["results"][0] = {**gone["results"][0], "unreachable": True, "msg": "Failed to connect", "stdout": ""}
    s = bench.bench_sample(haproxy_step(), sample("ab_timed.txt"), registered("before"), gone)
    assert s["cpu_us_per_request"]["balancer"] is None
    assert s["notes"] == ["no CPU time for haproxy on m3: Failed to connect"]


def test_each_backends_share_of_the_work_through_a_balancer() -> None:
    s = bench.bench_sample(haproxy_step(), sample("ab_timed.txt"), registered("before"), registered("after"))
    assert s["backend_shares"] == {"m1 apache2": 0.615, "m2 apache2": 0.385}  # 118 150 and 73 907 µs
    # m2's Apache spent no CPU between the two reads: the balancer had it out of its rotation.
    after = registered("after", text=lambda h: sample(f"counters_{h}_{'before' if h == 'm2' else 'after'}.txt"))
    s = bench.bench_sample(haproxy_step(), sample("ab_timed.txt"), registered("before"), after)
    assert s["backend_shares"] == {"m1 apache2": 1.0, "m2 apache2": 0.0}


def test_a_load_that_did_not_run_is_a_failed_sample() -> None:
    s = bench.bench_sample(haproxy_step(), error="site.yml failed (rc 2)")
    assert s["load"] == {"ok": False, "error": "site.yml failed (rc 2)"}
    assert s["cpu_us_per_request"] == {"client": None, "balancer": None, "backends": None}


@pytest.mark.parametrize(
    ("virt", "where"),
    [("docker", "containers"), ("qemu", "VMs, emulated (TCG)"), ("kvm", "VMs (kvm)"), ("none", "bare metal")],
)
def test_where_a_run_ran(virt: str, where: str) -> None:
    assert bench.bench_where(virt) == where


def test_where_can_be_given() -> None:
    s = bench.bench_sample(
        haproxy_step(), sample("ab_timed.txt"), registered("before"), registered("after"), where="VMs"
    )
    assert s["where"] == "VMs"


# --- aggregation and verdict ----------------------------------------------------------------

BASE = bench.bench_sample(haproxy_step(), sample("ab_timed.txt"), registered("before"), registered("after"))


def fake(name: str, rnd: int, block: int, rps: float, balancer_us: float | None = None, **extra) -> dict:
    """A captured sample with another name, place in the run, rate and balancer CPU."""
    s = copy.deepcopy(BASE)
    kind = "direct" if name.endswith("direct") else "balancer"
    s.update(name=name, kind=kind, round=rnd, block=block, balancer=None if kind == "direct" else name, **extra)
    s["index"] = {"m1 direct": 0, "m2 direct": 1, "nginx": 2, "haproxy": 3}.get(name, 4)
    s["load"]["requests_per_second"] = rps
    s["cpu_us_per_request"]["balancer"] = balancer_us if kind != "direct" else None
    return s


def run_of(rates: dict[str, list[float]]) -> dict:
    """rounds of [m1, m2, balancer] blocks: rates[balancer] = [m1, m2, balancer rate] per round, flattened."""
    samples, block = [], 0
    for rnd in range(len(next(iter(rates.values()))) // 3):
        for name, values in rates.items():
            m1, m2, rate = values[3 * rnd : 3 * rnd + 3]
            cpu = {"nginx": 30.0, "haproxy": 45.0}.get(name, 20.0)
            samples += [fake("m1 direct", rnd + 1, block, m1), fake("m2 direct", rnd + 1, block, m2)]
            samples.append(fake(name, rnd + 1, block, rate, cpu))
            block += 1
    for step, s in enumerate(samples, 1):
        s["step"] = step
    return bench.bench_summary({"started": "2026-11-24 07:00", "rounds": 3, "samples": samples})


CLEAR = {
    "nginx": [10000, 10000, 6000, 12000, 12000, 7000, 9000, 11000, 6200],
    "haproxy": [10000, 10000, 5000, 8000, 8000, 4300, 10000, 10000, 5200],
}


def test_median_and_min_max_over_rounds() -> None:
    run = run_of(CLEAR)
    by = {t["name"]: t for t in run["targets"]}
    assert [t["name"] for t in run["targets"]] == ["m1 direct", "m2 direct", "nginx", "haproxy"]
    assert by["nginx"]["requests_per_second"] == {"median": 6200, "min": 6000, "max": 7000, "n": 3}
    assert by["nginx"]["ratio_to_direct"] == {"median": 0.62, "min": 0.6, "max": 0.7, "n": 3}
    assert by["haproxy"]["ratio_to_direct"] == {"median": 0.5, "min": 0.43, "max": 0.52, "n": 3}
    assert by["m1 direct"]["requests_per_second"]["n"] == 6  # loaded beside each balancer in every round
    assert by["nginx"]["p99_ms"] == {"median": 25.0, "min": 25.0, "max": 25.0, "n": 3}
    assert by["nginx"]["cpu_us_per_request"]["balancer"]["median"] == 30.0
    assert by["nginx"]["cpu_us_per_request"]["backends"]["median"] == 96.03


def test_ratio_is_to_the_direct_rate_of_the_same_round() -> None:
    run = run_of(CLEAR)
    ratios = [(s["name"], s["round"], s["ratio_to_direct"]) for s in run["samples"] if s["kind"] != "direct"]
    # round 2's direct loads: 12 000 beside nginx, 8 000 beside haproxy; both over their mean, 10 000
    assert ratios == [
        ("nginx", 1, 0.6), ("haproxy", 1, 0.5), ("nginx", 2, 0.7),
        ("haproxy", 2, 0.43), ("nginx", 3, 0.62), ("haproxy", 3, 0.52),
    ]  # fmt: skip


def test_a_block_whose_direct_path_is_slower_does_not_raise_its_balancer() -> None:
    """IPVS's masquerading routes the backends' replies through the director, direct loads too:
    the direct loads beside it are slower, and a ratio to them alone would flatter it."""
    slow_beside_ipvs = {"nginx": [10000, 10000, 6000] * 3, "ipvs": [5000, 5000, 6000] * 3}
    run = run_of(slow_beside_ipvs)
    by = {t["name"]: t for t in run["targets"]}
    assert by["nginx"]["ratio_to_direct"]["median"] == by["ipvs"]["ratio_to_direct"]["median"] == 0.8
    assert run["verdict"][0].startswith("nginx and ipvs are not distinguishable on this machine")


def test_failed_and_non_2xx_are_summed_and_failures_listed() -> None:
    samples = run_of(CLEAR)["samples"]
    samples[2]["load"] = {**samples[2]["load"], "failed_requests": 3, "non_2xx": 2}
    samples[8]["load"] = {**samples[8]["load"], "failed_requests": 1}
    samples[14]["load"] = {"ok": False, "error": "apr_socket_recv: Connection refused (111)"}
    nginx = next(t for t in bench.bench_summary({"samples": samples})["targets"] if t["name"] == "nginx")
    assert (nginx["failed_requests"], nginx["non_2xx"], nginx["rounds"]) == (4, 2, 2)
    assert nginx["errors"] == ["apr_socket_recv: Connection refused (111)"]


# CLEAR and two more rounds in which nginx keeps ahead
CLEAR5 = {
    "nginx": CLEAR["nginx"] + [10000, 10000, 6500, 11000, 9000, 6600],
    "haproxy": CLEAR["haproxy"] + [9000, 9000, 4800, 10000, 10000, 5100],
}


def test_verdict_when_the_ranges_are_apart() -> None:
    assert run_of(CLEAR5)["verdict"] == [
        "nginx served 1.29\u00d7 haproxy (range 1.19-1.63 over 5 rounds; ranges this far apart come by chance "
        "in 1 run in 126 between two that serve the same); "
        "nginx's balancer CPU per request is 0.67\u00d7 haproxy's (30 vs 45 µs)"
    ]


@pytest.mark.parametrize(
    ("rounds", "odds"), [((1, 1), 1.0), ((3, 3), 0.1), ((4, 4), 2 / 70), ((5, 5), 2 / 252), ((3, 5), 2 / 56)]
)
def test_chance_of_apart_ranges_between_equals(rounds: tuple[int, int], odds: float) -> None:
    assert bench.bench_chance(*rounds) == pytest.approx(odds)


def test_chance_of_apart_ranges_matches_shuffled_equals() -> None:
    """The same count, by brute force: every order of 3 + 4 ratios from one distribution."""
    orders = list(itertools.permutations("aaabbbb"))
    apart = sum(1 for o in orders if "".join(o) in ("aaabbbb", "bbbbaaa"))
    assert bench.bench_chance(3, 4) == pytest.approx(apart / len(orders))


def test_chance_needs_rounds() -> None:
    with pytest.raises(AnsibleFilterError, match="rounds must be 1 or more"):
        bench.bench_chance(0, 3)


def test_verdict_when_the_ranges_overlap() -> None:
    close = {**CLEAR, "haproxy": [10000, 10000, 5000, 8000, 8000, 4800, 10000, 10000, 6100]}
    assert run_of(close)["verdict"] == [
        "nginx and haproxy are not distinguishable on this machine: their ÷ direct ranges overlap "
        "(0.60-0.70 and 0.48-0.61; nginx served 1.20\u00d7 haproxy, range 1.02-1.46 over 3 rounds); "
        "nginx's balancer CPU per request is 0.67\u00d7 haproxy's (30 vs 45 µs)"
    ]


def test_verdict_names_first_the_one_that_served_more_round_by_round() -> None:
    # haproxy's median ÷ direct is the higher (0.65 against 0.62), but nginx served more in two
    # rounds of three: the line says nginx served 1.06x haproxy, not haproxy 0.94x nginx
    crossed = {
        "nginx": [10000, 10000, 6000, 10000, 10000, 7000, 10000, 10000, 6200],
        "haproxy": [10000, 10000, 6500, 10000, 10000, 6600, 10000, 10000, 5000],
    }
    (line,) = run_of(crossed)["verdict"]
    assert line.startswith(
        "nginx and haproxy are not distinguishable on this machine: their ÷ direct ranges overlap "
        "(0.60-0.70 and 0.50-0.66; nginx served 1.06\u00d7 haproxy, range 0.92-1.24 over 3 rounds)"
    )


@pytest.mark.parametrize(
    ("rounds", "words", "odds"),
    [
        (1, "from 1 round (nginx served 1.20\u00d7 haproxy, range 1.20-1.20 over 1 round)", "every run"),
        (2, "from 2 rounds (nginx served 1.41\u00d7 haproxy, range 1.20-1.63 over 2 rounds)", "1 run in 3"),
        (3, "from 3 rounds (nginx served 1.20\u00d7 haproxy, range 1.19-1.63 over 3 rounds)", "1 run in 10"),
    ],
)
def test_verdict_from_too_few_rounds_asks_for_more(rounds: int, words: str, odds: str) -> None:
    # CLEAR's ranges are apart in all three rounds, and still no winner: 1 run in 10 does that by chance
    fewer = {name: values[: 3 * rounds] for name, values in CLEAR.items()}
    (line,) = run_of(fewer)["verdict"]
    assert line.startswith(f"nginx and haproxy are not distinguishable on this machine {words}")
    assert f"two balancers that serve the same get ranges apart in {odds}; run benchmark_rounds=4 or more" in line


def test_no_verdict_across_places_or_without_direct() -> None:
    samples = run_of(CLEAR)["samples"]
    for s in samples:
        if s["name"] == "haproxy":
            s["where"] = "VMs, emulated (TCG)"
    run = bench.bench_summary({"samples": samples})
    assert run["verdict"] == [
        "nginx (containers) and haproxy (VMs, emulated (TCG)) ran in different places: their figures are not compared"
    ]
    assert next(t for t in run["targets"] if t["name"] == "haproxy")["ratio_to_direct"] is None
    balancers = [s for s in run_of(CLEAR)["samples"] if s["kind"] != "direct"]
    assert bench.bench_summary({"samples": balancers})["verdict"] == [
        "nginx and haproxy: no ratio to direct for nginx and haproxy, so no verdict"
    ]


def test_verdict_without_balancer_cpu_says_so() -> None:
    samples = run_of(CLEAR)["samples"]
    for s in samples:
        if s["name"] == "haproxy":
            s["cpu_us_per_request"]["balancer"] = None
    (line,) = bench.bench_summary({"samples": samples})["verdict"]
    assert line.endswith("balancer CPU per request not measured for haproxy (no cgroup CPU time for its unit)")


def test_summary_needs_samples() -> None:
    with pytest.raises(AnsibleFilterError, match="at least one sample"):
        bench.bench_summary({"samples": []})


def test_a_load_with_a_backend_out_of_rotation_is_left_out_of_the_medians() -> None:
    samples = run_of(CLEAR)["samples"]
    # nginx's round-2 load went to m1 alone, and fast: it must not move nginx's figures or the verdict
    samples[8]["load"] = {**samples[8]["load"], "requests_per_second": 11500, "failed_requests": 2}
    samples[8]["backend_shares"] = {"m1 apache2": 0.96, "m2 apache2": 0.04}
    run = bench.bench_summary({"samples": samples})
    nginx = next(t for t in run["targets"] if t["name"] == "nginx")
    assert nginx["ratio_to_direct"] == {"median": 0.61, "min": 0.6, "max": 0.62, "n": 2}
    assert (nginx["left_out"], nginx["failed_requests"], nginx["rounds"]) == ([9], 2, 2)
    assert run["verdict"][0].startswith("nginx and haproxy are not distinguishable on this machine from 2 rounds")
    report = bench.bench_markdown(run)
    assert "| 9 | 2 | nginx | 11 500 | 1.15 (left out) | 25 | 2 | 0 |" in report
    assert (
        "- load 9 (nginx): m2 apache2 did 4% of the backends' work (38% in the median load): "
        "out of the balancer's rotation, left out of the medians" in report
    )
    assert bench.bench_progress(samples[:9]).endswith("backends 96; m2 apache2 did 4% of the backends' work [0 s]")


def test_a_backend_idle_in_every_load_is_the_farm_measured() -> None:
    samples = run_of(CLEAR)["samples"]
    for s in samples:
        if s["name"] == "nginx":
            s["backend_shares"] = {"m1 apache2": 1.0, "m2 apache2": 0.0}  # drained for the whole run, say
    nginx = next(t for t in bench.bench_summary({"samples": samples})["targets"] if t["name"] == "nginx")
    assert (nginx["left_out"], nginx["ratio_to_direct"]["n"]) == ([], 3)


# --- report ---------------------------------------------------------------------------------


def test_markdown_report() -> None:
    run = {**run_of(CLEAR), "command": "ab -n 2000 URL", "machine": "2 vCPUs", "seconds": 245}
    report = bench.bench_markdown(run)
    assert (
        "3 rounds of `ab -n 2000 URL` from the controller, on containers; 2 vCPUs. The run took 4 min 05 s." in report
    )
    assert "| nginx | containers | 3 | 6 200 (6 000-7 000) | 0.62 (0.60-0.70) | 2 | 25 | 0 | 0 |" in report
    assert "| m1 direct | containers | 3 | 10 000 (8 000-12 000) | 1.00 (0.80-1.20) | 2 | 25 | 0 | 0 |" in report
    assert "| haproxy | 9 | 45 | 96 | 150 | 13.5 | 2.12 |" in report
    assert "| m1 direct | 9 | - | 96 | 105 | 13.5 | 2.12 |" in report
    assert (
        "- nginx and haproxy are not distinguishable on this machine from 3 rounds "
        "(nginx served 1.20\u00d7 haproxy, range 1.19-1.63 over 3 rounds)" in report
    )
    assert "| 1 | 1 | m1 direct | 10 000 | 1.00 | 25 | 0 | 0 | 9, -, 96 |" in report


def test_markdown_marks_failed_loads() -> None:
    samples = run_of(CLEAR)["samples"]
    samples[5]["load"] = {"ok": False, "error": "site.yml failed (rc 2)"}
    report = bench.bench_markdown(bench.bench_summary({"samples": samples}))
    assert "| **haproxy** (FAILED 1 times: site.yml failed (rc 2)) | containers | 2 |" in report
    assert "| haproxy | FAILED: site.yml failed (rc 2) |" in report


def test_progress_line() -> None:
    samples = run_of(CLEAR)["samples"][:3]
    assert bench.bench_progress(samples, 83.4) == (
        "round 1, load 3, nginx: 6 000 req/s, ÷ direct 0.60, p99 25 ms, 0 failed, 0 non-2xx; "
        "CPU µs/request client 9, balancer 30, backends 96 [1 min 23 s]"
    )
    assert bench.bench_progress(samples[:2], 5).startswith("round 1, load 2, m2 direct: 10 000 req/s, p99 25 ms")
    failed = [*samples[:2], {**samples[2], "load": {"ok": False, "error": "no HTTP 200"}}]
    assert bench.bench_progress(failed, 5) == "round 1, load 3, nginx: FAILED: no HTTP 200 [5 s]"


@pytest.mark.parametrize(("seconds", "text"), [(12.4, "12 s"), (245, "4 min 05 s"), (3725, "1 h 02 min")])
def test_duration(seconds: float, text: str) -> None:
    assert bench.bench_duration(seconds) == text


# --- over TLS ---------------------------------------------------------------------------------

TLS = ("https", "handshakes", "h2")


def test_loads_over_tls_go_in_their_balancers_block_after_one_switch() -> None:
    steps = plan(2, tls=TLS)
    nginx = ["nginx", "nginx https", "nginx TLS handshakes", "nginx h2"]
    haproxy = ["haproxy", "haproxy https", "haproxy TLS handshakes", "haproxy h2"]
    blocks = [[s["target"]["name"] for s in steps if s["block"] == b] for b in range(4)]
    assert blocks[0] == ["m1 direct", "m2 direct", *nginx]
    assert blocks[1] == ["m1 direct", "m2 direct", *haproxy]
    # round 2 rotates the block and its members: it starts on haproxy, where round 1 ended
    assert blocks[2] == ["m2 direct", *haproxy, "m1 direct"]
    assert [(s["step"], s["switch"]) for s in steps if s["switch"]] == [
        (1, {"balancer": "nginx"}),
        (7, {"balancer": "haproxy"}),
        (19, {"balancer": "nginx"}),
    ]
    # a fresh balancer is warmed up on its HTTP and its HTTPS URL, each once
    assert steps[6]["warmup"] == ["http://10.0.0.4:80/swap.html", "https://10.0.0.4:443/swap.html"]
    assert {s["target"]["mode"] for s in steps} == {"http", *TLS}
    assert all(
        s["reads"] == [r for r in s["reads"] if r["unit"] in ("haproxy", "apache2")] for s in blocks_of(steps, 1)
    )


def blocks_of(steps: list[dict], block: int) -> list[dict]:
    return [s for s in steps if s["block"] == block]


def test_an_h2_load_is_read_from_h2loads_report() -> None:
    step = next(s for s in plan(1, tls=TLS) if s["target"]["name"] == "haproxy h2")
    timed = sample("h2load_ok.txt") + "client-cpu 0.020 0.010\n"
    s = bench.bench_sample(step, timed, registered("before"), registered("after"))
    assert (s["mode"], s["farm"], s["load"]["tool"], s["load"]["complete_requests"]) == (
        "h2",
        "haproxy",
        "h2load",
        2000,
    )
    assert s["cpu_us_per_request"]["client"] == 15.0  # 0.030 s over 2000 requests
    assert s["load"]["application_protocol"] == "h2"


def tls_run(rates: dict[str, list[tuple[float, ...]]], cpu: dict[str, list[float]] | None = None) -> dict:
    """Rounds of blocks: rates[farm][round] = (m1, m2, http, https, handshakes, h2) requests/s;
    cpu[farm][round] = the balancer's CPU per request of its TLS handshakes load."""
    samples, block = [], 0
    for rnd in range(len(next(iter(rates.values())))):
        for farm, per_round in rates.items():
            m1, m2, *through = per_round[rnd]
            samples += [fake("m1 direct", rnd + 1, block, m1), fake("m2 direct", rnd + 1, block, m2)]
            for (mode, name), rate in zip(
                (
                    ("http", farm),
                    ("https", f"{farm} https"),
                    ("handshakes", f"{farm} TLS handshakes"),
                    ("h2", f"{farm} h2"),
                ),
                through,
                strict=True,
            ):
                us = (cpu or {}).get(farm, [100.0] * 9)[rnd] if mode == "handshakes" else 30.0
                samples.append(fake(name, rnd + 1, block, rate, us, mode=mode, farm=farm))
                samples[-1]["index"] = 2 + list(rates).index(farm) * 4 + ("http", *TLS).index(mode)
            block += 1
    for step, s in enumerate(samples, 1):
        s["step"] = step
    return bench.bench_summary({"started": "2026-12-07 11:00", "rounds": rnd + 1, "samples": samples})


TLS_RATES = {
    "nginx": [(10000, 10000, 6000, 5400, 900, 7000), (10000, 10000, 6200, 5500, 950, 7100),
              (9000, 11000, 6100, 5000, 920, 6900), (10000, 10000, 6000, 5300, 910, 7000),
              (10000, 10000, 6050, 5450, 930, 7050)],
    "haproxy": [(10000, 10000, 5000, 4600, 1200, 6000), (10000, 10000, 5100, 4700, 1250, 6100),
                (10000, 10000, 5050, 4000, 1230, 6050), (10000, 10000, 5000, 4650, 1210, 6000),
                (10000, 10000, 5020, 4610, 1220, 6020)],
}  # fmt: skip
HANDSHAKE_CPU = {"nginx": [200.0, 210.0, 205.0, 215.0, 202.0], "haproxy": [150.0, 155.0, 149.0, 160.0, 152.0]}


def test_each_load_over_tls_is_weighed_against_its_balancers_plain_http_in_the_same_round() -> None:
    run = tls_run(TLS_RATES, HANDSHAKE_CPU)
    by = {t["name"]: t for t in run["targets"]}
    # 5400/6000, 5500/6200, 5000/6100, 5300/6000, 5450/6050
    assert by["nginx https"]["ratio_to_http"] == {"median": 0.887, "min": 0.82, "max": 0.901, "n": 5}
    assert by["nginx"]["ratio_to_http"] is None  # plain HTTP is the base
    assert by["haproxy h2"]["ratio_to_http"]["median"] == 1.199
    assert [t["name"] for t in run["targets"]][2:6] == ["nginx", "nginx https", "nginx TLS handshakes", "nginx h2"]


def test_verdict_compares_like_with_like_ranks_cpu_per_handshake_and_judges_the_goal() -> None:
    verdict = tls_run(TLS_RATES, HANDSHAKE_CPU)["verdict"]
    assert [line.split(" ")[0] for line in verdict] == [
        "nginx",  # plain HTTP
        "nginx",  # https
        "haproxy",  # TLS handshakes: haproxy served more
        "haproxy",  # and spent less CPU per handshake
        "nginx",  # h2
        "nginx",  # nginx https's goal
        "haproxy",  # haproxy https's goal
    ]
    assert verdict[0].startswith("nginx served 1.21\u00d7 haproxy (range 1.20-1.22 over 5 rounds;")
    assert verdict[2].startswith("haproxy TLS handshakes served 1.33\u00d7 nginx TLS handshakes")
    # their CPU per handshake has a line of its own, with the chance rule: not in the rates' line
    assert "CPU" not in verdict[2]
    assert verdict[3] == (
        "haproxy spends 0.74\u00d7 nginx's CPU per TLS handshake (152 µs (149-160) vs 205 µs (200-215); "
        "ranges this far apart come by chance in 1 run in 126 between two that cost the same)"
    )
    assert verdict[5] == (
        "nginx https kept 0.89\u00d7 nginx's plain-HTTP rate (range 0.82-0.90 over 5 rounds): the goal, "
        "0.85\u00d7 or more, is met in the median, not in every round (0.82 the lowest)"
    )
    assert verdict[6].endswith("is met in the median, not in every round (0.79 the lowest)")


def test_cpu_per_handshake_that_overlaps_or_comes_from_too_few_rounds_names_no_winner() -> None:
    close = {"nginx": [150.0, 210.0, 205.0, 215.0, 202.0], "haproxy": HANDSHAKE_CPU["haproxy"]}
    assert tls_run(TLS_RATES, close)["verdict"][3] == (
        "haproxy and nginx spend CPU per TLS handshake that this machine cannot tell apart: "
        "152 µs (149-160) vs 205 µs (150-215), ranges overlap"
    )
    two = {farm: rates[:2] for farm, rates in TLS_RATES.items()}
    assert tls_run(two, HANDSHAKE_CPU)["verdict"][3] == (
        "haproxy and nginx's CPU per TLS handshake are not distinguishable from 2 rounds "
        "(152 µs (150-155) vs 205 µs (200-210)): ranges so far apart come by chance in 1 run in 3"
    )


def test_goal_not_met_and_tls_in_the_report() -> None:
    slow = {"nginx": [(10000, 10000, 6000, 4000, 900, 7000)] * 3}
    run = {**tls_run(slow), "command": "ab -n 30000 URL", "commands": {"https": "ab -k URL", "h2": "h2load URL"}}
    assert run["verdict"][-1] == (
        "nginx https kept 0.67\u00d7 nginx's plain-HTTP rate (range 0.67-0.67 over 3 rounds): the goal, "
        "0.85\u00d7 or more, is NOT met"
    )
    report = bench.bench_markdown(run)
    assert (
        "3 rounds of `ab -n 30000 URL`, and over HTTPS `ab -k URL` (keep-alive over TLS); "
        "`h2load URL` (HTTP/2 by ALPN)," in report
    )
    assert (
        "| target | load | req/s | ÷ plain HTTP | p99 ms | balancer CPU µs/request | negotiated | failed | non-2xx |"
        in report
    )
    assert "| nginx https | keep-alive over TLS | 4 000 | 0.67 | 25 | 30 | - | 0 | 0 |" in report
    assert (
        "| nginx TLS handshakes | a new connection and TLS handshake per request | 900 | 0.15 | 25 | 100 | - | 0 | 0 |"
        in report
    )


def counted(when: str, count: str) -> dict:
    """registered(), with the balancer's own request count in m3's read (counters.sh's == requests)."""
    return registered(
        when, text=lambda h: sample(f"counters_{h}_{when}.txt") + (f"== requests\n{count}\n" if h == "m3" else "")
    )


def counting_step() -> dict:
    step = haproxy_step()
    step["reads"][0]["counter"] = "lbfarm-haproxy-api 'show stat -1 1 -1' | awk ..."
    return step


def test_the_balancers_own_count_of_the_load_matches_the_clients() -> None:
    s = bench.bench_sample(counting_step(), sample("ab_timed.txt"), counted("before", "100"), counted("after", "2100"))
    assert (s["balancer_counted"], s["notes"]) == (2000, [])


def test_a_difference_between_the_balancers_count_and_the_clients_is_noted() -> None:
    s = bench.bench_sample(counting_step(), sample("ab_timed.txt"), counted("before", "100"), counted("after", "2103"))
    assert s["balancer_counted"] == 2003
    assert s["notes"] == ["haproxy (round 1): the balancer counted 2003 requests, the client 2000 (+3)"]


@pytest.mark.parametrize(
    ("before", "after", "why"), [("none", "2100", "its count was not read"), ("500", "20", "restarted during the load")]
)
def test_a_count_not_read_or_restarted_is_not_compared(before: str, after: str, why: str) -> None:
    s = bench.bench_sample(counting_step(), sample("ab_timed.txt"), counted("before", before), counted("after", after))
    assert s["balancer_counted"] is None
    assert s["notes"] == [f"haproxy on m3: {why}; its count is not compared"]


def test_a_balancer_without_a_counter_has_no_count() -> None:
    s = bench.bench_sample(haproxy_step(), sample("ab_timed.txt"), counted("before", "100"), counted("after", "9999"))
    assert (s["balancer_counted"], s["notes"]) == (None, [])
