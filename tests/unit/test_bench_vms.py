"""The benchmark on VMs (roles/benchmark/filter_plugins/benchmark.py): IPVS's cost as its host's
whole CPU, the balancer host figure, the lab client, the runs that start on the farm as it stands.

The counters are what roles/benchmark/files/counters.sh printed on the VM lab's three QEMU VMs
around a real ab run through IPVS from the lab client (tests/unit/data/cgroups.md).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from benchmark_role import bench
from benchmark_role import targets as role_targets

DATA = Path(__file__).parent / "data"
HOSTS = {"balancers": ["m3"], "backends": ["m1", "m2"]}
UNITS = {
    "backend": "apache2",
    "balancers": {"nginx": "nginx", "haproxy": "haproxy", "ipvs": "lbfarm-ipvs"},
    "in_kernel": ["ipvs"],
}
BACKENDS = [
    {"name": "m1", "address": "192.168.56.2", "port": 80},
    {"name": "m2", "address": "192.168.56.3", "port": 80},
]
M3 = {"inventory_hostname": "m3", "lab_address": "192.168.56.4"}
CLIENT_BOOT_ID = (DATA / "vm_client_boot_id").read_text().strip()


def sample(name: str) -> str:
    return (DATA / name).read_text()


def step(balancer: str = "ipvs", units: dict = UNITS) -> dict:
    targets = role_targets(BACKENDS, M3, [balancer], [], "/swap.html")
    return next(s for s in bench.bench_plan(targets, 1, HOSTS, units) if s["target"]["name"] == balancer)


def registered(when: str, step: dict, text=None) -> dict:
    return {
        "results": [
            {
                "item": read,
                "rc": 0,
                "stdout": text(read["host"]) if text else sample(f"vm_counters_{read['host']}_{when}.txt"),
            }
            for read in step["reads"]
        ]
    }


def vm_sample(s: dict | None = None, **kwargs) -> dict:
    s = s or step()
    kwargs.setdefault("client_boot_id", CLIENT_BOOT_ID)
    return bench.bench_sample(s, sample("vm_ab_timed.txt"), registered("before", s), registered("after", s), **kwargs)


# --- the host's whole CPU -------------------------------------------------------------------


def test_proc_stat_is_the_hosts_busy_time() -> None:
    # user, nice, system, irq and softirq; not idle, iowait or steal
    assert bench.read_proc_stat("cpu  97288 0 62384 197412 51 0 8207 0 0 0", "100") == 1_678_790_000
    assert bench.read_proc_stat("cpu  100 0 100 5000 7 0 50 999 0 0", "250") == 1_000_000


@pytest.mark.parametrize("text", ["", "cpu0 1 2 3 4 5 6 7", "cpu  a b c d e f g", "intr 1 2 3"])
def test_a_stat_without_its_cpu_line_is_an_error(text: str) -> None:
    with pytest.raises(AnsibleFilterError, match="no cpu line of /proc/stat"):
        bench.read_proc_stat(text)


def test_counters_of_a_vm() -> None:
    counters = bench.bench_parse_counters(sample("vm_counters_m3_before.txt"))
    assert (counters["virt"], counters["unit"], counters["cpu_source"]) == ("qemu", "lbfarm-ipvs", "cgroup2")
    assert counters["cgroup"] == "/system.slice/lbfarm-ipvs.service"
    # read first and last: the read itself is left out of the load's window
    assert counters["host_cpu_usec_last"] > counters["host_cpu_usec_first"]
    assert counters["host_cpu_usec_first"] == (109133 + 67240 + 8561) * 10_000


def test_counters_without_stat_have_no_host_cpu() -> None:
    counters = bench.bench_parse_counters(sample("counters_m3_before.txt"))
    assert (counters["host_cpu_usec_first"], counters["host_cpu_usec_last"]) == (None, None)


# --- IPVS, a balancer in the kernel ---------------------------------------------------------


def test_ipvs_costs_its_hosts_whole_cpu() -> None:
    s = vm_sample()
    # m3: from the last line of the read before (busy 185 019 ticks) to the first of the read after
    # (185 216): 1.97 s over 1000 requests
    assert s["cpu_us_per_request"]["balancer"] == 1970.0
    assert s["balancer_host_us_per_request"] == 1970.0
    assert s["cpu_us_per_request_by_unit"]["m3 (whole host)"] == 1970.0
    assert s["balancer_in_kernel"] is True
    assert (s["where"], s["notes"]) == ("VMs, emulated (TCG)", [])
    assert s["cpu_us_per_request"]["backends"] == 5484.91  # Apache on m1 and m2, their units


def test_ipvs_unit_alone_would_count_only_keepalived_checks() -> None:
    """What the contract's in_kernel list is for: lbfarm-ipvs's cgroup holds keepalived's checker."""
    s = vm_sample(step(units={**UNITS, "in_kernel": []}))
    assert s["cpu_us_per_request"]["balancer"] == 55.71
    assert s["balancer_host_us_per_request"] == 1970.0
    assert s["balancer_in_kernel"] is False


def test_ipvs_in_a_container_is_not_measured() -> None:
    docker = sample("counters_m3_before.txt")
    s = bench.bench_sample(
        step(),
        sample("vm_ab_timed.txt"),
        registered("before", step(), lambda h: docker if h == "m3" else sample(f"vm_counters_{h}_before.txt")),
        registered("after", step(), lambda h: docker if h == "m3" else sample(f"vm_counters_{h}_after.txt")),
    )
    assert s["cpu_us_per_request"]["balancer"] is None
    assert s["notes"] == [
        "no CPU time for ipvs on m3: it is a container (docker): its kernel's CPU is shared with the other hosts"
    ]


def test_a_balancer_host_on_the_clients_kernel_is_not_its_own() -> None:
    m3_boot_id = bench.bench_parse_counters(sample("vm_counters_m3_after.txt"))["boot_id"]
    s = vm_sample(client_boot_id=m3_boot_id)
    assert s["balancer_host_us_per_request"] is None
    assert s["notes"] == [
        "no CPU time for ipvs on m3: it runs on the load client's kernel: its CPU includes the client's"
    ]


def test_a_reboot_during_the_load_is_a_note() -> None:
    s = step()
    rebooted = sample("vm_counters_m3_after.txt").replace("ae744773", "0e744773")
    after = registered("after", s, lambda h: rebooted if h == "m3" else sample(f"vm_counters_{h}_after.txt"))
    result = bench.bench_sample(s, sample("vm_ab_timed.txt"), registered("before", s), after)
    assert "no CPU time for ipvs on m3: it rebooted during the load" in result["notes"]


def test_a_daemon_on_a_vm_has_its_unit_and_its_whole_host() -> None:
    """The captured unit, as if it were HAProxy's: a daemon's cost is its unit, beside the whole VM."""
    s = step("haproxy")
    before = registered("before", s, lambda h: sample(f"vm_counters_{h}_before.txt").replace("lbfarm-ipvs", "haproxy"))
    after = registered("after", s, lambda h: sample(f"vm_counters_{h}_after.txt").replace("lbfarm-ipvs", "haproxy"))
    result = bench.bench_sample(s, sample("vm_ab_timed.txt"), before, after, client_boot_id=CLIENT_BOOT_ID)
    assert result["cpu_us_per_request"]["balancer"] == 55.71  # its unit's cgroup
    assert result["balancer_host_us_per_request"] == 1970.0  # and the whole VM it runs on
    assert result["balancer_in_kernel"] is False


def test_the_load_clients_time_can_come_as_stdout_and_stderr() -> None:
    stdout, _, stderr = sample("vm_ab_timed.txt").rpartition("\nclient-cpu")
    s = bench.bench_sample(step(), [stdout, "client-cpu" + stderr])
    assert s["cpu_us_per_request"]["client"] == 56.0  # 0.010 + 0.046 s over 1000 requests
    assert s["load"]["complete_requests"] == 1000


# --- the verdict and the report -------------------------------------------------------------


def vm_run(ipvs_host_us: float = 1000.0, nginx_host_us: float = 9000.0) -> dict:
    """Three rounds of m1, m2 and each balancer, from the captured IPVS sample."""
    base = vm_sample()
    samples, block = [], 0
    rates = {"ipvs": [400, 400, 176], "nginx": [800, 800, 100]}
    for rnd in (1, 2, 3):
        for name, (m1, m2, rate) in rates.items():
            for target, rps in (("m1 direct", m1), ("m2 direct", m2), (name, rate + rnd)):
                s = copy.deepcopy(base)
                direct = target.endswith("direct")
                s.update(name=target, kind="direct" if direct else "balancer", round=rnd, block=block)
                s["index"] = {"m1 direct": 0, "m2 direct": 1, "ipvs": 2}.get(target, 3)
                s["load"]["requests_per_second"] = rps
                s["balancer_in_kernel"] = target == "ipvs"
                s["balancer_host_us_per_request"] = (
                    None if direct else {"ipvs": ipvs_host_us}.get(target, nginx_host_us)
                )
                s["cpu_us_per_request"]["balancer"] = None if direct else {"ipvs": ipvs_host_us}.get(target, 8000.0)
                samples.append(s)
            block += 1
    for number, s in enumerate(samples, 1):
        s["step"] = number
    return bench.bench_summary({"started": "2026-12-03 23:07", "rounds": 3, "samples": samples})


def test_verdict_weighs_ipvs_and_a_daemon_by_their_hosts_whole_cpu() -> None:
    (line,) = vm_run()["verdict"]
    # the direct loads beside IPVS ran at half the rate of those beside nginx (its reply path):
    # one direct rate per round, so the verdict is the two balancers' own rates (no winner from 3 rounds)
    assert line.startswith(
        "ipvs and nginx are not distinguishable on this machine from 3 rounds "
        "(ipvs served 1.75\u00d7 nginx, range 1.73-1.76 over 3 rounds)"
    )
    assert line.endswith("ipvs's balancer host CPU per request is 0.11\u00d7 nginx's (1000 vs 9000 µs)")


def test_verdict_without_a_whole_host_figure_says_why() -> None:
    (line,) = vm_run(nginx_host_us=None)["verdict"]
    assert line.endswith(
        "balancer host CPU per request not measured for nginx (no whole-host CPU: a VM of its own is needed)"
    )


def test_report_on_vms_has_the_balancer_host_column_and_the_emulation_note() -> None:
    report = bench.bench_markdown({**vm_run(), "client": "the lab client (network namespace lbfarm-lab)"})
    assert "from the lab client (network namespace lbfarm-lab), on VMs, emulated (TCG);" in report
    assert "| target | client | balancer | backends | total | balancer host, whole |" in report
    assert "| ipvs | 56 | 1 000 (whole host) | 5 485 | 6 541 | 1 000 |" in report
    assert "| nginx | 56 | 8 000 | 5 485 | 13 541 | 9 000 |" in report
    assert "Under emulation (TCG) a guest's clock runs on while its vCPU waits" in report


def test_samples_say_which_loads_followed_a_site_yml() -> None:
    s = step()
    assert vm_sample({**s, "switch": {"balancer": "ipvs"}})["switch"] == {"balancer": "ipvs"}
    assert vm_sample(s)["switch"] is None
