"""lbfarm benchmark filters: parse ab and wrk output, compare targets, render the Markdown report."""

from __future__ import annotations

import importlib.util
import itertools
import math
import re
import statistics
from collections import ChainMap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError


def _load_farm_filters():
    """filter_plugins/farm.py, for farm_endpoints: Ansible loads each filter file on its own, not as a package."""
    spec = importlib.util.spec_from_file_location("lbfarm_farm_filters", Path(__file__).with_name("farm.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_farm = _load_farm_filters()

DOCUMENTATION = r"""
  name: bench
  short_description: Plan, read and report a benchmark run of the farm in rounds
  description:
    - C(bench_parse_ab) and C(bench_parse_wrk) turn the text a run of ab or wrk printed into a dict;
      a run that served nothing comes back with C(ok=false) and the tool's last words as C(error).
    - C(bench_targets) lists what a run loads - each backend directly, then each balancer and
      variant where the farm answers for it (farm_endpoints of the balancer host) - with the URL and
      the site.yml variables of each.
    - C(bench_plan) orders the loads of a run in rounds and blocks (one farm set-up per block, the
      direct targets loaded beside each balancer), rotated from round to round; it starts on the
      balancer the farm runs when told which, and reads a kernel balancer's (IPVS) hosts whole.
    - C(bench_parse_counters) reads what roles/benchmark/files/counters.sh printed on a host (cgroup
      v1 or v2 CPU time of a unit, the host's busy CPU from /proc/stat, TCP counters, context
      switches).
    - C(bench_sample) turns one load (ab's output, the counters before and after) into a sample with
      CPU microseconds per request per component, the balancer hosts' whole CPU where they run
      kernels of their own (VMs), and, through a balancer, each backend's share of the backends'
      CPU.
    - C(bench_summary) aggregates the samples per target (median and min-max over rounds), adds each
      round's ratio to the direct targets loaded in that round, and the verdict for each pair of balancers;
      a load in which a backend did under half its usual share (out of the balancer's rotation) is
      marked C(left_out) and kept out of the medians and the verdict, not out of the failed counts.
    - C(bench_markdown) renders a summary as a Markdown report; C(bench_progress) is one progress line.
"""

EXAMPLES = r"""
_plan: "{{ _targets | bench_plan(3, {'balancers': ['m3'], 'backends': ['m1', 'm2']},
                                  {'backend': 'apache2', 'balancers': {'nginx': 'nginx'}}) }}"
_sample: "{{ _step | bench_sample(_ab.stdout ~ _ab.stderr, _before, _after) }}"
_summary: "{{ {'started': '...', 'samples': _samples} | bench_summary }}"
_report: "{{ _summary | bench_markdown }}"
"""

AB_PERCENTILES = ("50", "66", "75", "80", "90", "95", "98", "99", "100")
_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_AB_FIELDS = {
    "complete_requests": (rf"^Complete requests:\s+{_NUMBER}", int),
    "failed_requests": (rf"^Failed requests:\s+{_NUMBER}", int),
    "non_2xx": (rf"^Non-2xx responses:\s+{_NUMBER}", int),
    "keepalive_requests": (rf"^Keep-Alive requests:\s+{_NUMBER}", int),
    "requests_per_second": (rf"^Requests per second:\s+{_NUMBER}", float),
    "mean_latency_ms": (rf"^Time per request:\s+{_NUMBER} \[ms\] \(mean\)$", float),
    "transfer_kbytes_per_second": (rf"^Transfer rate:\s+{_NUMBER}", float),
    "time_taken_s": (rf"^Time taken for tests:\s+{_NUMBER}", float),
}
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
_UNITS_BYTES = {"B": 1 / 1024, "KB": 1.0, "MB": 1024.0, "GB": 1024.0 * 1024}


def _text(output: Any, tool: str) -> str:
    if not isinstance(output, str):
        raise AnsibleFilterError(f"bench_parse_{tool} expects the text {tool} printed, got {type(output).__name__}")
    return output


def _failure(text: str) -> dict[str, Any]:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    # ab prints its error on the "Benchmarking HOST (be patient)..." line
    return {"ok": False, "error": lines[-1].rsplit("...", 1)[-1].strip() if lines else "no output"}


def bench_parse_ab(output: str) -> dict[str, Any]:
    """Parse the report ApacheBench prints."""
    text = _text(output, "ab")
    if not re.search(r"^Requests per second:", text, re.M):
        return _failure(text)
    result: dict[str, Any] = {"ok": True, "tool": "ab"}
    for key, (pattern, kind) in _AB_FIELDS.items():
        match = re.search(pattern, text, re.M)
        result[key] = kind(match.group(1)) if match else kind(0)
    breakdown = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)", text)
    result["failed_breakdown"] = dict(
        zip(("connect", "receive", "length", "exceptions"), map(int, breakdown.groups()), strict=True)
        if breakdown
        else {}
    )
    result["percentiles_ms"] = {
        p: float(m.group(1)) for p in AB_PERCENTILES if (m := re.search(rf"^\s+{p}%\s+{_NUMBER}", text, re.M))
    }
    return result


def _duration_ms(value: str) -> float:
    match = re.fullmatch(rf"{_NUMBER}(us|ms|s|m)", value)
    if not match:
        raise AnsibleFilterError(f"bench_parse_wrk: cannot read the duration {value!r}")
    return round(float(match.group(1)) * _UNITS_MS[match.group(2)], 3)


def bench_parse_wrk(output: str) -> dict[str, Any]:
    """Parse the report wrk prints with --latency."""
    text = _text(output, "wrk")
    rate = re.search(rf"^Requests/sec:\s+{_NUMBER}", text, re.M)
    if not rate:
        return _failure(text)
    total = re.search(r"^\s+(\d+) requests in", text, re.M)
    mean = re.search(r"^\s+Latency\s+(\S+)", text, re.M)
    transfer = re.search(rf"^Transfer/sec:\s+{_NUMBER}(B|KB|MB|GB)", text, re.M)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "ok": True,
        "tool": "wrk",
        "complete_requests": int(total.group(1)) if total else 0,
        "failed_requests": sum(map(int, errors.groups())) if errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "requests_per_second": float(rate.group(1)),
        "mean_latency_ms": _duration_ms(mean.group(1)) if mean else 0.0,
        "transfer_kbytes_per_second": round(float(transfer.group(1)) * _UNITS_BYTES[transfer.group(2)], 2)
        if transfer
        else 0.0,
        "percentiles_ms": {
            m.group(1): _duration_ms(m.group(2)) for m in re.finditer(r"^\s+(\d+)%\s+(\S+)$", text, re.M)
        },
    }


def bench_targets(
    backends: Sequence[Mapping[str, Any]],
    balancer_host: Mapping[str, Any],
    balancers: Sequence[str] = (),
    variants: Sequence[Mapping[str, Any]] = (),
    path: str = "/",
    direct: bool = True,
) -> list[dict[str, Any]]:
    """The targets of a run, in the order they are loaded; balancer_host is the balancer's hostvars."""
    if not path.startswith("/"):
        raise AnsibleFilterError(f"bench_targets: the page {path!r} must start with /")

    def through(extra: Mapping[str, Any]) -> dict[str, Any]:
        # ChainMap reads only the variables it is asked for (Ansible's hostvars template on access)
        url = _farm.farm_endpoints(ChainMap(dict(extra), balancer_host), extra["balancer"])["url"]
        return {"kind": "balancer", "url": url.rstrip("/") + path, "vars": dict(extra)}

    targets = []
    if direct:
        targets += [
            {"name": f"{b['name']} direct", "kind": "direct", "url": f"http://{b['address']}:{b['port']}{path}"}
            for b in backends
        ]
    for name in balancers:
        targets.append({"name": name, **through({"balancer": name})})
    for variant in variants:
        if not {"name", "balancer"} <= set(variant):
            raise AnsibleFilterError(f"bench_targets: variant {dict(variant)!r} needs a name and a balancer")
        targets.append(
            {"name": variant["name"], **through({**dict(variant.get("vars") or {}), "balancer": variant["balancer"]})}
        )
    names = [t["name"] for t in targets]
    if len(set(names)) != len(names):
        raise AnsibleFilterError(f"bench_targets: target names must differ, got {names}")
    return targets


COMPONENTS = ("client", "balancer", "backends")
# systemd-detect-virt's word for where a host runs -> the label a run carries. Figures from
# different places (containers sharing the controller's CPU, VMs, emulated VMs) are never put in
# one ratio.
_CONTAINERS = ("docker", "podman", "lxc", "lxc-libvirt", "systemd-nspawn", "openvz", "rkt", "wsl")
_WHERE = {"qemu": "VMs, emulated (TCG)", "none": "bare metal"}


def bench_where(virt: str) -> str:
    """The label of a run on hosts that systemd-detect-virt calls virt."""
    if virt in _CONTAINERS:
        return "containers"
    return _WHERE.get(virt, f"VMs ({virt})")


def bench_rotate(items: Sequence[Any], shift: int) -> list[Any]:
    """items rotated left by shift: [a, b, c] by 1 is [b, c, a]."""
    items = list(items)
    if not items:
        return []
    shift %= len(items)
    return items[shift:] + items[:shift]


def _block_orders(
    configs: list[dict[str, Any]], rounds: int, end_on: str | None, running: str | None = None
) -> list[list[dict[str, Any]]]:
    k = len(configs)

    def orders(base: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        # Rotating by k-1 each round starts a round with the set-up the previous round ended on (no
        # site.yml between them) and still puts each set-up first in turn.
        return [bench_rotate(base, r * (k - 1)) for r in range(rounds)]

    def saved(candidate: list[list[dict[str, Any]]]) -> tuple[bool, bool]:
        # End on the inventory's own set-up when the rotation allows, so no site.yml puts it back;
        # then start on the one the farm runs, so none sets it up.
        return (
            end_on is not None and candidate[-1][-1].get("vars") == {"balancer": end_on},
            running is not None and candidate[0][0].get("vars") == {"balancer": running},
        )

    # max keeps the first of equals: the targets' own order when nothing is saved
    return max((orders(bench_rotate(configs, shift)) for shift in range(k)), key=saved)


def _reads(target: Mapping[str, Any], hosts: Mapping[str, Any], units: Mapping[str, Any]) -> list[dict[str, str]]:
    reads = []
    if target["kind"] != "direct":
        name = target["vars"]["balancer"]
        unit = (units.get("balancers") or {}).get(name)
        if not unit:
            raise AnsibleFilterError(
                f"bench_plan: no systemd unit for the balancer {name!r}: add it to _balancer_units in "
                "roles/balancer/vars/main.yml (the balancer contract)"
            )
        # A balancer that forwards in the kernel (IPVS) does its work in softirq time, charged to no
        # unit: its cost is its hosts' whole CPU.
        scope = "host" if name in (units.get("in_kernel") or ()) else "unit"
        reads += [
            {"host": h, "role": "balancer", "unit": unit, **({"scope": scope} if scope == "host" else {})}
            for h in hosts.get("balancers") or []
        ]
    reads += [{"host": h, "role": "backend", "unit": units["backend"]} for h in hosts.get("backends") or []]
    return reads


def bench_plan(
    targets: Sequence[Mapping[str, Any]],
    rounds: int,
    hosts: Mapping[str, Sequence[str]],
    units: Mapping[str, Any],
    end_on: str | None = None,
    running: str | None = None,
) -> list[dict[str, Any]]:
    """The loads of a run in order: rounds of blocks, one farm set-up per block.

    Each round loads every target once per block it belongs to: a block is one balancer (or variant)
    with the direct targets loaded beside it, so that the direct rate a round's balancers are weighed
    against is measured among them, minutes, not a whole run, away. Blocks rotate from round to round
    and so do the targets inside a block. A step carries the site.yml variables to switch to (first
    step of a block whose set-up differs from the farm's), the URLs to warm up (uncounted), and the
    unit counters to read.
    running is the balancer the farm runs now, as site.yml set it up (None: unknown, so the first
    block sets the farm up too); end_on the balancer to leave it on.
    """
    if not targets:
        raise AnsibleFilterError("bench_plan: no targets: set benchmark_balancers or benchmark_direct")
    if int(rounds) < 1:
        raise AnsibleFilterError(f"bench_plan: benchmark_rounds must be 1 or more, got {rounds!r}")
    indexed = [{**t, "index": i} for i, t in enumerate(targets)]
    directs = [t for t in indexed if t["kind"] == "direct"]
    configs = [t for t in indexed if t["kind"] != "direct"]
    orders = _block_orders(configs, int(rounds), end_on, running) if configs else [[None]] * int(rounds)
    steps: list[dict[str, Any]] = []
    current = next((c["name"] for c in configs if running is not None and c["vars"] == {"balancer": running}), None)
    warmed, block = set(), 0
    for r, order in enumerate(orders):
        for config in order:
            members = bench_rotate(directs + ([config] if config else []), r)
            switch = config is not None and config["name"] != current
            # a balancer is warmed up when it has just been set up, and at the start of the run
            fresh = switch or block == 0
            warmup = [
                t["url"] for t in members if (t is config and fresh) or (t in directs and t["name"] not in warmed)
            ]
            warmed.update(t["name"] for t in directs)
            current = config["name"] if config else current
            for i, target in enumerate(members):
                steps.append(
                    {
                        "round": r + 1,
                        "rounds": int(rounds),
                        "block": block,
                        "target": target,
                        "switch": dict(config["vars"]) if switch and i == 0 else None,
                        "farm": config["name"] if config else None,
                        "warmup": warmup if i == 0 else [],
                        "reads": _reads(target, hosts, units),
                    }
                )
            block += 1
    for number, step in enumerate(steps, 1):
        step.update(step=number, steps=len(steps))
    return steps


def read_cpu_stat(text: str) -> int:
    """CPU microseconds from a cgroup v2 cpu.stat."""
    match = re.search(r"^usage_usec (\d+)\s*$", text, re.M)
    if not match:
        raise AnsibleFilterError("bench: no usage_usec line in the cgroup v2 cpu.stat")
    return int(match.group(1))


def read_cpuacct_usage(text: str) -> int:
    """CPU microseconds from a cgroup v1 cpuacct.usage (nanoseconds)."""
    if not text.strip().isdigit():
        raise AnsibleFilterError(f"bench: cgroup v1 cpuacct.usage holds {text.strip()[:40]!r}, not nanoseconds")
    return int(text.strip()) // 1000


# /proc/stat's cpu line: user nice system idle iowait irq softirq steal guest guest_nice (guest time
# is counted in user and nice already; steal is time the hypervisor gave to someone else).
_BUSY = (0, 1, 2, 5, 6)


def read_proc_stat(text: str, ticks_per_second: str = "100") -> int:
    """The busy CPU microseconds of a whole host from the cpu line of its /proc/stat."""
    line = next((line.split() for line in text.splitlines() if line.startswith("cpu ")), None)
    if not line or len(line) < 8 or not all(v.isdigit() for v in line[1:]) or not str(ticks_per_second).isdigit():
        raise AnsibleFilterError(f"bench: no cpu line of /proc/stat in {text.strip()[:60]!r}")
    ticks = sum(int(line[1 + i]) for i in _BUSY)
    return ticks * 1_000_000 // int(ticks_per_second)


def bench_parse_counters(text: str) -> dict[str, Any]:
    """What roles/benchmark/files/counters.sh printed on a host, as a dict."""
    sections: dict[str, list[str]] = {}
    name = None
    for line in str(text).replace("\r", "").splitlines():
        if line.startswith("== "):
            name = line[3:].strip()
            sections[name] = []
        elif name is not None:
            sections[name].append(line)

    def first(key: str) -> str | None:
        lines = sections.get(key)
        return lines[0].strip() if lines else None

    result: dict[str, Any] = {
        "boot_id": first("boot_id"),
        "netns": first("netns"),
        "virt": first("virt"),
        "tcp": {},
        "unit": None,
        "cgroup": None,
        "cpu_usec": None,
        "cpu_source": None,
        "voluntary_switches": None,
        "nonvoluntary_switches": None,
        # the whole host's busy CPU at the first and at the last line of the read
        "host_cpu_usec_first": None,
        "host_cpu_usec_last": None,
    }
    tcp = [line.split()[1:] for line in sections.get("snmp", []) if line.startswith("Tcp:")]
    if len(tcp) == 2 and len(tcp[0]) == len(tcp[1]):
        result["tcp"] = {key: int(value) for key, value in zip(tcp[0], tcp[1], strict=True)}
    for key, lines in sections.items():
        body = "\n".join(lines)
        kind, _, rest = key.partition(" ")
        if kind == "unit":
            unit, _, cgroup = rest.partition(" ")
            result["unit"], result["cgroup"] = unit, (None if cgroup in ("", "none") else cgroup)
        elif kind == "cgroup2":
            result["cpu_usec"], result["cpu_source"] = read_cpu_stat(body), "cgroup2"
        elif kind == "cgroup1" and result["cpu_source"] != "cgroup2":
            result["cpu_usec"], result["cpu_source"] = read_cpuacct_usage(body), "cgroup1"
        elif kind == "stat":
            cpu = [line for line in lines if line.startswith("cpu ")]
            ticks = first("clk_tck") or "100"
            if len(cpu) == 2:
                result["host_cpu_usec_first"] = read_proc_stat(cpu[0], ticks)
                result["host_cpu_usec_last"] = read_proc_stat(cpu[1], ticks)
        elif kind == "switches":
            counts = dict(line.split() for line in lines if len(line.split()) == 2)
            result["voluntary_switches"] = int(counts.get("voluntary", 0))
            result["nonvoluntary_switches"] = int(counts.get("nonvoluntary", 0))
    return result


def _counters(registered: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """A registered loop over step reads -> {(host, unit): counters or {'error': why}}."""
    results = registered.get("results", []) if isinstance(registered, Mapping) else registered or []
    counters = {}
    for result in results:
        item = result.get("item") or {}
        key = (item.get("host", "?"), item.get("unit", "?"))
        stdout = result.get("stdout") or ""
        if result.get("unreachable") or result.get("rc", 0) != 0 or "== unit" not in stdout:
            counters[key] = {"error": (result.get("msg") or result.get("stderr") or "no output").strip()[:200]}
        else:
            counters[key] = bench_parse_counters(stdout)
    return counters


def _per(value: float | None, requests: int, scale: float = 1.0) -> float | None:
    return None if value is None or not requests else round(value * scale / requests, 2)


# A backend whose share of the backends' CPU in a load through a balancer is under this part of
# its usual share (its median over the target's loads) was out of the balancer's rotation for
# much of the load (nginx's max_fails after a failed request, say): that load measured fewer
# backends than the farm has.
OUT_OF_ROTATION = 0.5


def bench_sample(
    step: Mapping[str, Any],
    ab_output: str = "",
    before: Any = None,
    after: Any = None,
    wrk_output: str | None = None,
    error: str | None = None,
    where: str = "",
    client_boot_id: str = "",
) -> dict[str, Any]:
    """One load of a step: ab's result and CPU microseconds per request per component.

    ab_output and wrk_output are what the tool printed, or its [stdout, stderr]. client_boot_id is
    the load client's /proc/sys/kernel/random/boot_id: a balancer host's whole CPU counts only
    where the host runs a kernel of its own, not the client's nor a container's.
    """
    # joined here: a newline written in a folded YAML template reaches the filter as backslash-n
    ab_output, wrk_output = (
        "\n".join(map(str, text)) if isinstance(text, list | tuple) else text for text in (ab_output, wrk_output)
    )
    target = step["target"]
    ab = {"ok": False, "error": error} if error else bench_parse_ab(ab_output)
    start, end = _counters(before), _counters(after)
    virts = sorted({c["virt"] for c in end.values() if c.get("virt")})
    in_kernel = [read["host"] for read in step.get("reads") or [] if read.get("scope") == "host"]
    sample: dict[str, Any] = {
        "round": step["round"],
        "block": step["block"],
        "step": step["step"],
        "index": target.get("index", 0),
        "name": target["name"],
        "kind": target["kind"],
        "balancer": (target.get("vars") or {}).get("balancer"),
        "url": target["url"],
        # the site.yml variables that set the farm up right before this load (None: it was up)
        "switch": step.get("switch"),
        "where": where or " + ".join(bench_where(v) for v in virts) or "unknown",
        "ab": ab,
        "wrk": bench_parse_wrk(wrk_output) if wrk_output else None,
        "cpu_us_per_request": dict.fromkeys(COMPONENTS),
        "cpu_us_per_request_by_unit": {},
        "backend_new_connections_per_1000": None,
        "backend_voluntary_switches_per_request": None,
        "backend_shares": {},
        "balancer_host_us_per_request": None,
        "balancer_in_kernel": bool(in_kernel),
        "notes": [],
    }
    requests = ab.get("complete_requests", 0) if ab.get("ok") else 0
    if not requests:
        return sample
    client = re.search(r"^client-cpu ([0-9.]+) ([0-9.]+)\s*$", ab_output, re.M)
    if client:
        sample["cpu_us_per_request"]["client"] = _per((float(client[1]) + float(client[2])) * 1e6, requests)
    totals = {"balancer": 0.0, "backends": 0.0}
    missing = {"balancer": False, "backends": False}
    present = {"balancer": False, "backends": False}
    switches: float | None = 0.0
    opens: float | None = 0.0
    backend_cpu: dict[str, float] = {}
    seen_cgroups, seen_netns = set(), set()
    hosts = _balancer_hosts_cpu(step, start, end, client_boot_id)
    sample["balancer_host_us_per_request"] = _per(hosts["usec"], requests)
    if in_kernel:
        # A kernel balancer's cost is its hosts' whole CPU: the forwarding runs in no unit.
        present["balancer"] = True
        if hosts["usec"] is None:
            sample["notes"].append(f"no CPU time for {target['name']} on {', '.join(in_kernel)}: {hosts['why']}")
            missing["balancer"] = True
        else:
            totals["balancer"] = hosts["usec"]
            sample["cpu_us_per_request_by_unit"][f"{', '.join(in_kernel)} (whole host)"] = _per(hosts["usec"], requests)
    for read in step.get("reads") or []:
        if read.get("scope") == "host":
            continue
        component = "balancer" if read["role"] == "balancer" else "backends"
        present[component] = True
        key = (read["host"], read["unit"])
        a, b = start.get(key, {"error": "not read"}), end.get(key, {"error": "not read"})
        if "error" in a or "error" in b or a["cpu_usec"] is None or b["cpu_usec"] is None or a["cgroup"] != b["cgroup"]:
            why = a.get("error") or b.get("error") or "its unit has no cgroup CPU time"
            sample["notes"].append(f"no CPU time for {read['unit']} on {read['host']}: {why}")
            missing[component] = True
            continue
        delta = b["cpu_usec"] - a["cpu_usec"]
        if delta < 0:
            sample["notes"].append(
                f"{read['unit']} on {read['host']} restarted during the load: its CPU is not counted"
            )
            missing[component] = True
            continue
        # Two inventory hosts on one machine (the single-host IPVS lab) share one unit: count it once.
        if (b["boot_id"], b["cgroup"]) in seen_cgroups:
            continue
        seen_cgroups.add((b["boot_id"], b["cgroup"]))
        totals[component] += delta
        sample["cpu_us_per_request_by_unit"][f"{read['host']} {read['unit']}"] = _per(delta, requests)
        if component == "backends" and target["kind"] != "direct":
            backend_cpu[f"{read['host']} {read['unit']}"] = delta
        if component == "backends":
            if switches is not None and a["voluntary_switches"] is not None and b["voluntary_switches"] is not None:
                # Threads that exit take their counts with them: a fall means the figure is lost.
                gained = b["voluntary_switches"] - a["voluntary_switches"]
                switches = switches + gained if gained >= 0 else None
            else:
                switches = None
            if (b["boot_id"], b["netns"]) not in seen_netns and opens is not None:
                seen_netns.add((b["boot_id"], b["netns"]))
                gained = b["tcp"].get("PassiveOpens", 0) - a["tcp"].get("PassiveOpens", 0) if b["tcp"] else None
                opens = None if gained is None else opens + gained
    for component in ("balancer", "backends"):
        if present[component] and not missing[component]:
            sample["cpu_us_per_request"][component] = _per(totals[component], requests)
    if len(backend_cpu) > 1 and totals["backends"] > 0 and not missing["backends"]:
        sample["backend_shares"] = {unit: round(cpu / totals["backends"], 3) for unit, cpu in backend_cpu.items()}
    if present["backends"] and not missing["backends"]:
        sample["backend_voluntary_switches_per_request"] = _per(switches, requests)
        sample["backend_new_connections_per_1000"] = _per(opens, requests, 1000)
    return sample


def _own_kernel(counters: Mapping[str, Any], client_boot_id: str) -> str | None:
    """Why a host's whole CPU is not its own work (None when it is: a VM or machine of its own)."""
    if counters.get("virt") in _CONTAINERS:
        return f"it is a container ({counters['virt']}): its kernel's CPU is shared with the other hosts"
    if client_boot_id and counters.get("boot_id") == client_boot_id:
        return "it runs on the load client's kernel: its CPU includes the client's"
    if counters.get("host_cpu_usec_first") is None:
        return "no cpu line of /proc/stat was read"
    return None


def _balancer_hosts_cpu(
    step: Mapping[str, Any], start: Mapping[tuple, Any], end: Mapping[tuple, Any], client_boot_id: str
) -> dict[str, Any]:
    """The busy CPU of the balancer hosts over a load (each kernel once), or why it is not known."""
    usec, seen = 0, set()
    for read in step.get("reads") or []:
        if read["role"] != "balancer":
            continue
        key = (read["host"], read["unit"])
        a, b = start.get(key, {"error": "not read"}), end.get(key, {"error": "not read"})
        why = a.get("error") or b.get("error") or _own_kernel(b, client_boot_id) or _own_kernel(a, client_boot_id)
        # from the last line of the read before the load to the first line of the read after it
        if why is None and (a["boot_id"] != b["boot_id"] or b["host_cpu_usec_first"] < a["host_cpu_usec_last"]):
            why = "it rebooted during the load"
        if why:
            return {"usec": None, "why": why}
        if b["boot_id"] not in seen:
            seen.add(b["boot_id"])
            usec += b["host_cpu_usec_first"] - a["host_cpu_usec_last"]
    return {"usec": usec if seen else None, "why": "no balancer host was read"}


def _stats(values: Any) -> dict[str, float] | None:
    """Median, min, max and count of the values that are not None."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values), "n": len(values)}


def _ratios(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each sample with its ratio to the mean rate of the direct targets loaded in its round.

    One direct rate per round, not per block: a balancer's set-up can change the direct path too
    (IPVS's masquerading routes the backends' replies to the lab client through the director), and
    every balancer of a round must be weighed against the same direct rate.
    """
    direct: dict[int, list[dict[str, Any]]] = {}
    for s in samples:
        if s["kind"] == "direct" and s["ab"].get("ok"):
            direct.setdefault(s["round"], []).append(s)
    out = []
    for s in samples:
        beside = [d for d in direct.get(s["round"], []) if d["where"] == s["where"]]
        baseline = sum(d["ab"]["requests_per_second"] for d in beside) / len(beside) if beside else None
        ratio = round(s["ab"]["requests_per_second"] / baseline, 3) if baseline and s["ab"].get("ok") else None
        out.append({**s, "direct_requests_per_second": baseline, "ratio_to_direct": ratio})
    return out


def _leave_out(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark a balancer's loads in which a backend served far less than it does in its other loads.

    Such a load measured fewer backends than the farm has; it stays in the report (and in the
    failed and non-2xx sums) but out of the medians, the ranges and the verdict. A backend that
    serves little in every load of a target (drained, or of low weight) is the farm measured.
    """
    usual: dict[tuple[str, str], float] = {}
    for name in {s["name"] for s in samples}:
        loads = [s for s in samples if s["name"] == name and s["ab"].get("ok") and s.get("backend_shares")]
        for unit in {u for s in loads for u in s["backend_shares"]}:
            usual[name, unit] = statistics.median(s["backend_shares"].get(unit, 0.0) for s in loads)
    out = []
    for s in samples:
        low = [
            f"{unit} did {share:.0%} of the backends' work ({usual[s['name'], unit]:.0%} in the median load)"
            for unit, share in (s.get("backend_shares") or {}).items()
            if s["ab"].get("ok") and share < OUT_OF_ROTATION * usual[s["name"], unit]
        ]
        why = f"{' and '.join(low)}: out of the balancer's rotation, left out of the medians" if low else None
        out.append({**s, "left_out": why})
    return out


def _target_summary(group: list[dict[str, Any]]) -> dict[str, Any]:
    served = [s for s in group if s["ab"].get("ok")]
    ok = [s for s in served if not s.get("left_out")]
    wrk = [s["wrk"] for s in group if s.get("wrk") and s["wrk"].get("ok")]
    return {
        "name": group[0]["name"],
        "kind": group[0]["kind"],
        "balancer": group[0]["balancer"],
        "where": group[0]["where"],
        "loads": len(group),
        "rounds": len({s["round"] for s in ok}),
        "requests_per_second": _stats(s["ab"]["requests_per_second"] for s in ok),
        "ratio_to_direct": _stats(s["ratio_to_direct"] for s in ok),
        "p50_ms": _stats(s["ab"]["percentiles_ms"].get("50") for s in ok),
        "p99_ms": _stats(s["ab"]["percentiles_ms"].get("99") for s in ok),
        "percentiles_ms": {p: _stats(s["ab"]["percentiles_ms"].get(p) for s in ok) for p in AB_PERCENTILES},
        "left_out": [s["step"] for s in served if s.get("left_out")],
        "failed_requests": sum(s["ab"]["failed_requests"] for s in served),
        "non_2xx": sum(s["ab"]["non_2xx"] for s in served),
        "errors": sorted({s["ab"].get("error", "") for s in group if not s["ab"].get("ok")}),
        "cpu_us_per_request": {c: _stats(s["cpu_us_per_request"][c] for s in ok) for c in COMPONENTS},
        "balancer_in_kernel": any(s.get("balancer_in_kernel") for s in group),
        "balancer_host_us_per_request": _stats(s.get("balancer_host_us_per_request") for s in ok),
        "backend_new_connections_per_1000": _stats(s["backend_new_connections_per_1000"] for s in ok),
        "backend_voluntary_switches_per_request": _stats(s["backend_voluntary_switches_per_request"] for s in ok),
        "wrk_requests_per_second": _stats(w["requests_per_second"] for w in wrk),
        "wrk_p99_ms": _stats(w["percentiles_ms"].get("99") for w in wrk),
    }


# A winner is named only when ranges as far apart would come by chance at most this often between
# two balancers that serve the same (1 run in 20).
VERDICT_CHANCE = 0.05
TIMES = "\u00d7"  # MULTIPLICATION SIGN, as in the verdict "nginx served 1.20 TIMES haproxy"


def _x(value: float) -> str:
    return f"{value:.2f}{TIMES}"


def _cpu_phrase(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    if a.get("balancer_in_kernel") or b.get("balancer_in_kernel"):
        # A kernel balancer has no unit of its own: both are weighed by their hosts' whole CPU.
        what, unmeasured_why = "balancer host CPU per request", "no whole-host CPU: a VM of its own is needed"
        ca, cb = (t.get("balancer_host_us_per_request") for t in (a, b))
    else:
        what, unmeasured_why = "balancer CPU per request", "no cgroup CPU time for its unit"
        ca, cb = (t["cpu_us_per_request"]["balancer"] for t in (a, b))
    if ca and cb and cb["median"]:
        return (
            f"{a['name']}'s {what} is {_x(ca['median'] / cb['median'])} {b['name']}'s "
            f"({ca['median']:.0f} vs {cb['median']:.0f} µs)"
        )
    unmeasured = " and ".join(t["name"] for t, c in ((a, ca), (b, cb)) if not c)
    return f"{what} not measured for {unmeasured} ({unmeasured_why})"


def _paired(samples: Sequence[Mapping[str, Any]], a: str, b: str) -> dict[str, float] | None:
    """a's ÷ direct over b's in each round where both served (loads left out excepted)."""

    def by_round(name: str) -> dict[int, float]:
        return {
            s["round"]: s["ratio_to_direct"]
            for s in samples
            if s["name"] == name and s["ratio_to_direct"] and not s.get("left_out")
        }

    ra, rb = by_round(a), by_round(b)
    return _stats(ra[r] / rb[r] for r in ra if rb.get(r))


def bench_chance(rounds_a: int, rounds_b: int) -> float:
    """How often two balancers that serve the same get ÷ direct ranges that do not overlap.

    If their rounds' ratios come from one distribution, every order of the rounds_a + rounds_b
    ratios is equally likely, and the ranges are apart only when all of one's lie above all of the
    other's: 2 orders out of C(rounds_a + rounds_b, rounds_a). 3 rounds each: 1 run in 10; 4: 1 in
    35; 5: 1 in 126.
    """
    if rounds_a < 1 or rounds_b < 1:
        raise AnsibleFilterError(f"bench_chance: rounds must be 1 or more, got {rounds_a!r} and {rounds_b!r}")
    return 2 / math.comb(rounds_a + rounds_b, rounds_a)  # C(n + m, n) >= 2: at most 1


def _rounds_needed() -> int:
    """The fewest rounds, the same for both balancers, that can name a winner."""
    return next(n for n in itertools.count(1) if bench_chance(n, n) <= VERDICT_CHANCE)


def _rounds(n: int) -> str:
    return f"{n} round{'' if n == 1 else 's'}"


def _odds(chance: float) -> str:
    return "every run" if chance >= 1 else f"1 run in {round(1 / chance)}"


def bench_verdict(targets: Sequence[Mapping[str, Any]], samples: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per pair of balancers (and variants) that ran in the same place."""
    lines = []
    balancers = [t for t in targets if t["kind"] != "direct"]
    for first, second in itertools.combinations(balancers, 2):
        if first["where"] != second["where"]:
            lines.append(
                f"{first['name']} ({first['where']}) and {second['name']} ({second['where']}) ran in different "
                "places: their figures are not compared"
            )
            continue
        if not first["ratio_to_direct"] or not second["ratio_to_direct"]:
            lost = " and ".join(t["name"] for t in (first, second) if not t["ratio_to_direct"])
            lines.append(f"{first['name']} and {second['name']}: no ratio to direct for {lost}, so no verdict")
            continue
        # The one that served more first: by the rounds side by side, else by the medians.
        a, b = sorted((first, second), key=lambda t: -t["ratio_to_direct"]["median"])
        paired = _paired(samples, a["name"], b["name"])
        if paired and paired["median"] < 1:
            a, b = b, a
            paired = _paired(samples, a["name"], b["name"])
        ra, rb = a["ratio_to_direct"], b["ratio_to_direct"]
        if paired:
            served = f"{a['name']} served {_x(paired['median'])} {b['name']}"
            spread = f"range {paired['min']:.2f}-{paired['max']:.2f} over {_rounds(paired['n'])}"
        else:  # no round where both served: the medians' ratio
            served = f"{a['name']} served {_x(ra['median'] / rb['median'])} {b['name']}"
            spread = "no round where both served"
        cpu = _cpu_phrase(a, b)
        rounds = min(ra["n"], rb["n"])
        chance = bench_chance(ra["n"], rb["n"])
        if ra["min"] <= rb["max"] and rb["min"] <= ra["max"]:
            lines.append(
                f"{a['name']} and {b['name']} are not distinguishable on this machine: their ÷ direct ranges overlap "
                f"({ra['min']:.2f}-{ra['max']:.2f} and {rb['min']:.2f}-{rb['max']:.2f}; {served}, {spread}); {cpu}"
            )
        elif chance > VERDICT_CHANCE:
            # Few rounds give apart ranges by chance: from 3 rounds each, 1 run in 10 names a winner
            # between two balancers that serve the same.
            lines.append(
                f"{a['name']} and {b['name']} are not distinguishable on this machine from {_rounds(rounds)} "
                f"({served}, {spread}): with so few, two balancers that serve the same get ranges apart in "
                f"{_odds(chance)}; run benchmark_rounds={_rounds_needed()} or more; {cpu}"
            )
        else:
            lines.append(
                f"{served} ({spread}; ranges this far apart come by chance in {_odds(chance)} "
                f"between two that serve the same); {cpu}"
            )
    return lines


def bench_summary(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run's samples aggregated per target, with each round's ratio to direct and the verdict."""
    samples = run.get("samples") if isinstance(run, Mapping) else None
    if not isinstance(samples, Sequence) or not samples:
        raise AnsibleFilterError("bench_summary expects {'samples': [...]} with at least one sample")
    samples = _leave_out(_ratios(list(samples)))
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in sorted(samples, key=lambda s: (s["kind"] != "direct", s["index"], s["step"])):
        groups.setdefault(s["name"], []).append(s)
    targets = [_target_summary(group) for group in groups.values()]
    return {**run, "samples": samples, "targets": targets, "verdict": bench_verdict(targets, samples)}


def _cell(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:,.{digits}f}".replace(",", " ")
    return str(value)


def _spread(stats: Mapping[str, Any] | None, digits: int = 0) -> str:
    """median (min-max), or the median alone when every round gave the same."""
    if not stats:
        return "-"
    if stats["min"] == stats["max"]:
        return _cell(stats["median"], digits)
    return f"{_cell(stats['median'], digits)} ({_cell(stats['min'], digits)}-{_cell(stats['max'], digits)})"


def _median(stats: Mapping[str, Any] | None, digits: int = 0) -> str:
    return _cell(stats["median"], digits) if stats else "-"


def bench_duration(seconds: float) -> str:
    """12 s, 4 min 05 s, 1 h 02 min."""
    seconds = round(float(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def bench_markdown(run: Mapping[str, Any]) -> str:
    """Render a summarised run as a Markdown report."""
    targets = run.get("targets") or []
    rounds = run.get("rounds") or max((s["round"] for s in run.get("samples") or []), default=0)
    wheres = sorted({t["where"] for t in targets})
    lines = [
        f"# lbfarm benchmark, {run.get('started', '')}",
        "",
        f"{rounds} rounds of `{run.get('command', '')}` from {run.get('client') or 'the controller'}, "
        f"on {' and '.join(wheres)}; "
        f"{run.get('machine', '')}."
        + (f" The run took {bench_duration(run['seconds'])}." if run.get("seconds") is not None else ""),
        "",
        "| target | where | rounds | req/s | ÷ direct | p50 ms | p99 ms | failed | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        name = (
            t["name"]
            if not t["errors"]
            else f"**{t['name']}** (FAILED {len(t['errors'])} times: {'; '.join(t['errors'])})"
        )
        lines.append(
            f"| {name} | {t['where']} | {t['rounds']} | {_spread(t['requests_per_second'])} "
            f"| {_spread(t['ratio_to_direct'], 2)} | {_spread(t['p50_ms'])} | {_spread(t['p99_ms'])} "
            f"| {t['failed_requests']} | {t['non_2xx']} |"
        )
    # The balancer hosts' whole CPU, where they run kernels of their own (VMs): the one figure a
    # kernel balancer (IPVS) and a daemon share.
    whole = any(t.get("balancer_host_us_per_request") for t in targets)
    lines += [
        "",
        "CPU per request in µs (median over the loads), read from each unit's cgroup and the client's own time"
        + (", and the balancer hosts' /proc/stat:" if whole else ":"),
        "",
        "| target | client | balancer | backends | total |"
        + (" balancer host, whole |" if whole else "")
        + " backend new connections / 1000 requests | Apache voluntary switches / request |",
        "|---|---|---|---|---|" + ("---|" if whole else "") + "---|---|",
    ]
    for t in targets:
        cpu = t["cpu_us_per_request"]
        known = [cpu[c]["median"] for c in COMPONENTS if cpu[c]]
        whole_host = t.get("balancer_in_kernel") and cpu["balancer"]
        balancer = _median(cpu["balancer"]) + (" (whole host)" if whole_host else "")
        lines.append(
            f"| {t['name']} | {_median(cpu['client'])} | {balancer} | {_median(cpu['backends'])} "
            f"| {_cell(sum(known)) if known else '-'} |"
            + (f" {_median(t.get('balancer_host_us_per_request'))} |" if whole else "")
            + f" {_median(t['backend_new_connections_per_1000'], 1)} "
            f"| {_median(t['backend_voluntary_switches_per_request'], 2)} |"
        )
    wrk = [t for t in targets if t["wrk_requests_per_second"]]
    if wrk:
        lines += ["", "wrk, beside ab:", "", "| target | req/s | p99 ms |", "|---|---|---|"]
        lines += [
            f"| {t['name']} | {_spread(t['wrk_requests_per_second'])} | {_spread(t['wrk_p99_ms'], 2)} |" for t in wrk
        ]
    lines += ["", "Verdict:", ""] + [f"- {line}" for line in run.get("verdict") or ["no two balancers to compare"]]
    lines += [
        "",
        "Every load, in the order run:",
        "",
        "| # | round | target | req/s | ÷ direct | p99 ms | failed | non-2xx "
        "| CPU µs/request client, balancer, backends |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sorted(run.get("samples") or [], key=lambda s: s["step"]):
        ab, cpu = s["ab"], s["cpu_us_per_request"]
        if not ab.get("ok"):
            lines.append(f"| {s['step']} | {s['round']} | {s['name']} | FAILED: {ab.get('error', '')} | | | | | |")
            continue
        lines.append(
            f"| {s['step']} | {s['round']} | {s['name']} | {_cell(ab['requests_per_second'])} "
            f"| {_cell(s.get('ratio_to_direct'), 2)}{' (left out)' if s.get('left_out') else ''} "
            f"| {_cell(ab['percentiles_ms'].get('99'))} "
            f"| {ab['failed_requests']} | {ab['non_2xx']} | {', '.join(_cell(cpu[c]) for c in COMPONENTS)} |"
        )
    notes = sorted({note for s in run.get("samples") or [] for note in s["notes"]})
    notes += [
        f"load {s['step']} ({s['name']}): {s['left_out']}"
        for s in sorted(run.get("samples") or [], key=lambda s: s["step"])
        if s.get("left_out")
    ]
    lines += [
        "",
        "req/s, p50, p99: median over the loads, (min-max) when they differ. ÷ direct: in each round, the "
        "target's requests/s over the mean of the backends loaded directly in the same round (beside each "
        "balancer of the round), then the median and range of those ratios. failed and non-2xx: "
        "summed over the loads, as ab counts them. CPU: the unit's cgroup CPU time over the load window "
        "(balancer: its unit on the balancer hosts, or for a kernel balancer such as IPVS their whole busy "
        "CPU; backends: Apache on every backend; client: ab's user + system time), divided by the requests "
        "served. Figures from different places (containers, VMs, emulated VMs) are never put in one ratio.",
    ]
    if any("emulated" in where for where in wheres):
        notes.append(
            "Under emulation (TCG) a guest's clock runs on while its vCPU waits for a core of this machine, "
            "and the guest counts that wait as CPU time: the VMs' CPU figures mix cost with waiting, and "
            "compare only with each other, in this run."
        )
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def bench_progress(samples: Sequence[Mapping[str, Any]], elapsed: float = 0.0) -> str:
    """The progress line of the last sample of a run so far."""
    last = _ratios(list(samples))[-1]
    ab = last["ab"]
    where = f"round {last['round']}, load {last['step']}, {last['name']}"
    if not ab.get("ok"):
        return f"{where}: FAILED: {ab.get('error', '')} [{bench_duration(elapsed)}]"
    cpu = last["cpu_us_per_request"]
    # A balancer's ratio to the direct loads of its round run so far (all of them at the round's end).
    shown = last["kind"] != "direct" and last["ratio_to_direct"] is not None
    ratio = f", ÷ direct {last['ratio_to_direct']:.2f}" if shown else ""
    return (
        f"{where}: {_cell(ab['requests_per_second'])} req/s{ratio}, p99 {_cell(ab['percentiles_ms'].get('99'))} ms, "
        f"{ab['failed_requests']} failed, {ab['non_2xx']} non-2xx; CPU µs/request "
        + ", ".join(f"{c} {_cell(cpu[c])}" for c in COMPONENTS)
        + "".join(
            f"; {unit} did {share:.0%} of the backends' work"
            for unit, share in (last.get("backend_shares") or {}).items()
            if share < 0.1
        )
        + f" [{bench_duration(elapsed)}]"
    )


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "bench_parse_ab": bench_parse_ab,
            "bench_parse_wrk": bench_parse_wrk,
            "bench_parse_counters": bench_parse_counters,
            "bench_targets": bench_targets,
            "bench_plan": bench_plan,
            "bench_sample": bench_sample,
            "bench_summary": bench_summary,
            "bench_markdown": bench_markdown,
            "bench_progress": bench_progress,
            "bench_duration": bench_duration,
        }
