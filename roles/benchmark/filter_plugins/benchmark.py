"""lbfarm benchmark filters: parse ab and wrk output, compare targets, render the Markdown report."""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import ChainMap
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
  name: benchmark
  short_description: Plan, read and report a benchmark run of the farm in rounds
  description:
    - C(bench_parse_ab), C(bench_parse_h2load) and C(bench_parse_wrk) turn the text a run of ab, h2load
      or wrk printed into a dict; a run that served nothing comes back with C(ok=false) and the tool's
      last words as C(error). ab's failed TLS handshakes are counted as failed.
    - C(bench_farms) lists the farm set-ups a run loads through - each balancer, then each variant - with
      the site.yml variables of each; C(bench_overlay) puts a set-up's variables over the balancer host's,
      for the role to ask farm_endpoints where the farm answers for it.
    - C(bench_targets) lists what a run loads - each backend directly, then each balancer and
      variant where the farm answers for it (farm_endpoints of the balancer host, passed in by the role) -
      with the URL and the site.yml variables of each.
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
_farms: "{{ ['nginx'] | bench_farms([{'name': 'nginx 8080', 'balancer': 'nginx', 'vars': {'nginx_lb_port': 8080}}]) }}"
_url: "{{ (hostvars['m3'] | bench_overlay(_farms[1].vars) | farm_endpoints(lookup('balancers', 'nginx'))).url }}"
_targets: "{{ _backends | bench_targets(_farms,
                                        {'nginx': {'url': 'http://m3/', 'https_url': 'https://m3/', 'http2': true},
                                         'nginx 8080': {'url': 'http://m3:8080/', 'https_url': none}},
                                        '/swap.html', true, ['https', 'handshakes', 'h2']) }}"
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
    _ab_tls(text, result)
    return result


def _ab_tls(text: str, result: dict[str, Any]) -> None:
    """ab over HTTPS: the protocol and cipher it got, and its failed handshakes counted as failed.

    ab prints "SSL handshake failed" for each connection whose handshake failed and counts it as a
    complete request; as a failed one only once a response has set the document length (a "Length"
    failure: 0 bytes read), so never when every handshake failed. The handshakes beyond ab's Length
    failures are added to the failed requests here, and a load in which every handshake failed
    served nothing.
    """
    protocol = re.search(r"^SSL/TLS Protocol:\s+([^,\s]+),([^,\s]+)", text, re.M)
    if protocol:
        result["tls"] = f"{protocol.group(1)} {protocol.group(2)}"
    handshakes = len(re.findall(r"SSL handshake failed \(", text))
    if not handshakes:
        return
    result["failed_breakdown"]["tls_handshake"] = handshakes
    result["failed_requests"] += max(0, handshakes - result["failed_breakdown"].get("length", 0))
    if handshakes >= result["complete_requests"]:
        why = re.findall(r"^[0-9A-F]+:error:[^:]+:[^:]+:[^:]+:(.+?):", text, re.M)
        result.update(ok=False, error=f"every TLS handshake failed ({why[-1] if why else 'SSL handshake failed'})")


_H2LOAD_REQUESTS = re.compile(
    r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
    re.M,
)
_H2LOAD_STATUS = re.compile(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", re.M)


def bench_parse_h2load(output: str) -> dict[str, Any]:
    """Parse the report h2load (nghttp2-client) prints: the same keys as bench_parse_ab's.

    h2load gives no percentiles, only the mean time per request. Its own "failed" counts the 4xx
    and 5xx too: failed_requests here are its "errored" (no whole response: network errors,
    timeouts among them), as ab's failed, and non_2xx its 3xx, 4xx and 5xx. A load that reached
    the server by another protocol than h2 (ALPN) is a failed load: it measured no HTTP/2.
    """
    text = _text(output, "h2load")
    requests = _H2LOAD_REQUESTS.search(text)
    rate = re.search(rf"^finished in \S+, {_NUMBER} req/s", text, re.M)
    if not requests or not rate:
        return _failure(text)
    _total, _started, done, succeeded, failed, errored, timeout = map(int, requests.groups())
    application = re.search(r"^Application protocol: (\S+)", text, re.M)
    if application and application.group(1) != "h2":
        return {"ok": False, "error": f"h2load got {application.group(1)} by ALPN, not h2"}
    if not succeeded:
        return {
            "ok": False,
            "error": f"no request succeeded ({failed} failed: {errored} without a response, {timeout} timed out)",
        }
    status = _H2LOAD_STATUS.search(text)
    mean = re.search(r"^time for request:\s+\S+\s+\S+\s+(\S+)", text, re.M)
    protocol = re.search(r"^TLS Protocol: (\S+)", text, re.M)
    cipher = re.search(r"^Cipher: (\S+)", text, re.M)
    return {
        "ok": True,
        "tool": "h2load",
        "complete_requests": done,
        "failed_requests": errored,
        "failed_breakdown": {"errored": errored, "timeout": timeout},
        "non_2xx": sum(map(int, status.groups()[1:])) if status else 0,
        "requests_per_second": float(rate.group(1)),
        "mean_latency_ms": _duration_ms(mean.group(1)) if mean else 0.0,
        "percentiles_ms": {},
        "application_protocol": application.group(1) if application else None,
        **({"tls": f"{protocol.group(1)} {cipher.group(1) if cipher else ''}".strip()} if protocol else {}),
    }


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


def bench_farms(
    balancers: Sequence[str] = (), variants: Sequence[Mapping[str, Any]] = (), known: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """The farm set-ups a run loads through, in order: each balancer, then each variant, with its site.yml variables.

    known, when given, names the balancers there are (the balancer contract's): any other is an error.
    """
    farms = [{"name": name, "vars": {"balancer": name}} for name in balancers]
    for variant in variants:
        if not {"name", "balancer"} <= set(variant):
            raise AnsibleFilterError(f"bench_targets: variant {dict(variant)!r} needs a name and a balancer")
        farms.append(
            {"name": variant["name"], "vars": {**dict(variant.get("vars") or {}), "balancer": variant["balancer"]}}
        )
    unknown = [f["vars"]["balancer"] for f in farms if known is not None and f["vars"]["balancer"] not in known]
    if unknown:
        raise AnsibleFilterError(f"bench_targets: balancer {unknown[0]!r} is unknown: use one of {', '.join(known)}")
    return farms


def bench_overlay(host_vars: Mapping[str, Any], farm_vars: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A host's variables with a farm set-up's site.yml variables over them, as site.yml sees them.

    A ChainMap reads only the variables it is asked for (Ansible's hostvars template on access).
    """
    return ChainMap(dict(farm_vars or {}), host_vars)


# The loads over TLS of a balancer that serves HTTPS, beside its plain-HTTP load: each is a target
# of its own in the balancer's block, named after it ("nginx https"); what each load is, for the report.
TLS_LOADS = {
    "https": ("https", "keep-alive over TLS"),  # ab -k over TLS
    "handshakes": ("TLS handshakes", "a new connection and TLS handshake per request"),  # ab without keep-alive
    "h2": ("h2", "HTTP/2 by ALPN"),  # h2load, several streams per connection
}


def _farm_urls(name: str, urls: Mapping[str, Any] | None) -> dict[str, Any]:
    """Where a farm answers: {url, https_url, http2} (https_url None when it serves no HTTPS; http2
    whether its balancer speaks HTTP/2 over TLS, by ALPN)."""
    found = dict((urls or {}).get(name) or {})
    if not found.get("url"):
        raise AnsibleFilterError(f"bench_targets: no URL for {name!r}: where does the farm answer for it?")
    return found


def bench_targets(
    backends: Sequence[Mapping[str, Any]],
    farms: Sequence[Mapping[str, Any]] = (),
    urls: Mapping[str, Any] | None = None,
    path: str = "/",
    direct: bool = True,
    tls_loads: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The targets of a run, in the order they are loaded: the backends directly, then the farms (bench_farms).

    urls maps each farm's name to where the farm answers for it (farm_endpoints of the balancer
    host): {url, https_url, http2}. tls_loads (keys of TLS_LOADS) adds, after each farm
    that serves HTTPS, one target per load over TLS (h2 where its balancer speaks HTTP/2), with its
    mode; every target has a mode (http for the plain ones) and the farm whose block it is loaded in.
    """
    if not path.startswith("/"):
        raise AnsibleFilterError(f"bench_targets: the page {path!r} must start with /")
    unknown = [mode for mode in tls_loads if mode not in TLS_LOADS]
    if unknown:
        raise AnsibleFilterError(
            f"bench_targets: benchmark_tls_loads has {unknown[0]!r}: use some of {', '.join(TLS_LOADS)}"
        )
    targets = []
    if direct:
        targets += [
            {
                "name": f"{b['name']} direct",
                "kind": "direct",
                "mode": "http",
                "url": f"http://{b['address']}:{b['port']}{path}",
            }
            for b in backends
        ]
    for farm in farms:
        found = _farm_urls(farm["name"], urls)
        base = {"kind": "balancer", "farm": farm["name"], "vars": dict(farm["vars"])}
        targets.append({"name": farm["name"], "mode": "http", "url": found["url"].rstrip("/") + path, **base})
        if found.get("https_url"):
            targets += [
                {
                    "name": f"{farm['name']} {TLS_LOADS[mode][0]}",
                    "mode": mode,
                    "url": found["https_url"].rstrip("/") + path,
                    # the load tools do not verify the certificate (the proof and the tests do): whether
                    # the farm serves is asked over plain HTTP, and a failed handshake counts as failed
                    "probe_url": found["url"].rstrip("/") + path,
                    **base,
                }
                for mode in tls_loads
                # HTTP/2 only where the balancer offers it by ALPN (gobetween terminates TLS at L4)
                if mode != "h2" or found.get("http2")
            ]
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


def _in_kernel(name: str, in_kernel: Any) -> bool:
    """Whether the balancer forwards in the kernel: in_kernel lists such balancers, or flags each by name."""
    if isinstance(in_kernel, Mapping):
        return bool(in_kernel.get(name))
    return name in (in_kernel or ())


def _balancer_unit(name: str, units: Mapping[str, Any]) -> str:
    unit = (units.get("balancers") or {}).get(name)
    if not unit:
        raise AnsibleFilterError(
            f"bench_plan: no systemd unit for the balancer {name!r}: add it to the balancer contract (lookup balancers)"
        )
    return unit


def _reads(target: Mapping[str, Any], hosts: Mapping[str, Any], units: Mapping[str, Any]) -> list[dict[str, str]]:
    reads = []
    if target["kind"] != "direct":
        name = target["vars"]["balancer"]
        unit = _balancer_unit(name, units)
        # A balancer that forwards in the kernel (IPVS) does its work in softirq time, charged to no
        # unit: its cost is its hosts' whole CPU.
        scope = {"scope": "host"} if _in_kernel(name, units.get("in_kernel")) else {}
        # the command that prints the balancer's own request count, where it has one
        counter = {"counter": c} if (c := (units.get("counters") or {}).get(name)) else {}
        reads += [
            {"host": h, "role": "balancer", "unit": unit, **scope, **counter} for h in hosts.get("balancers") or []
        ]
    reads += [{"host": h, "role": "backend", "unit": units["backend"]} for h in hosts.get("backends") or []]
    return reads


def _running_farm(configs: Sequence[Mapping[str, Any]], running: str | None) -> str | None:
    """The name of the target whose set-up the farm runs now (None: unknown, or none of them)."""
    return next((c["name"] for c in configs if running is not None and c["vars"] == {"balancer": running}), None)


class _Planner:
    """A plan made block by block: which set-up the farm runs (current), which direct targets are warm."""

    def __init__(
        self,
        rounds: int,
        hosts: Mapping[str, Sequence[str]],
        units: Mapping[str, Any],
        directs: list[dict[str, Any]],
        current: str | None,
        over_tls: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self.rounds, self.hosts, self.units, self.directs = rounds, hosts, units, directs
        # each farm's loads over TLS, loaded in its block beside its plain-HTTP load
        self.over_tls = over_tls or {}
        self.current = current
        self.warmed: set[str] = set()
        self.blocks = 0

    def block(self, r: int, config: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The steps of the next block, in round r (from 0): config with the direct targets beside it."""
        farm = [config, *self.over_tls.get(config["name"], [])] if config else []
        members = bench_rotate(self.directs + farm, r)
        switch = config is not None and config["name"] != self.current
        # a balancer is warmed up when it has just been set up (each of its URLs: HTTP and HTTPS),
        # and at the start of the run
        fresh = switch or self.blocks == 0
        warmup = list(
            dict.fromkeys(
                t["url"]
                for t in members
                if (t in farm and fresh) or (t in self.directs and t["name"] not in self.warmed)
            )
        )
        steps = [
            {
                "round": r + 1,
                "rounds": self.rounds,
                "block": self.blocks,
                "target": target,
                "switch": dict(config["vars"]) if switch and i == 0 else None,
                "farm": config["name"] if config else None,
                "warmup": warmup if i == 0 else [],
                "reads": _reads(target, self.hosts, self.units),
            }
            for i, target in enumerate(members)
        ]
        self.warmed.update(t["name"] for t in self.directs)
        self.current = config["name"] if config else self.current
        self.blocks += 1
        return steps


def _check_plan(targets: Sequence[Mapping[str, Any]], rounds: Any) -> int:
    if not targets:
        raise AnsibleFilterError("bench_plan: no targets: set benchmark_balancers or benchmark_direct")
    if int(rounds) < 1:
        raise AnsibleFilterError(f"bench_plan: benchmark_rounds must be 1 or more, got {rounds!r}")
    return int(rounds)


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
    block sets the farm up too); end_on the balancer to leave it on. units: the backends' unit
    (backend), each balancer's (balancers, by name) and the balancers that forward in the kernel
    (in_kernel: their names, or a flag by name).
    """
    rounds = _check_plan(targets, rounds)
    indexed = [{**t, "index": i} for i, t in enumerate(targets)]
    directs = [t for t in indexed if t["kind"] == "direct"]
    configs = [t for t in indexed if t["kind"] != "direct" and t.get("mode", "http") == "http"]
    over_tls: dict[str, list[dict[str, Any]]] = {}
    for t in indexed:
        if t["kind"] != "direct" and t.get("mode", "http") != "http":
            over_tls.setdefault(t["farm"], []).append(t)
    orders = _block_orders(configs, rounds, end_on, running) if configs else [[None]] * rounds
    planner = _Planner(rounds, hosts, units, directs, _running_farm(configs, running), over_tls)
    steps = [step for r, order in enumerate(orders) for config in order for step in planner.block(r, config)]
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


def _sections(text: str) -> dict[str, list[str]]:
    """counters.sh's output cut at its "== name" lines: {name: the lines under it}."""
    sections: dict[str, list[str]] = {}
    name = None
    for line in str(text).replace("\r", "").splitlines():
        if line.startswith("== "):
            name = line[3:].strip()
            sections[name] = []
        elif name is not None:
            sections[name].append(line)
    return sections


def _first(sections: Mapping[str, list[str]], key: str) -> str | None:
    lines = sections.get(key)
    return lines[0].strip() if lines else None


def _tcp(snmp: Sequence[str]) -> dict[str, int]:
    """The Tcp: counters of /proc/net/snmp (a line of names, then a line of values)."""
    tcp = [line.split()[1:] for line in snmp if line.startswith("Tcp:")]
    if len(tcp) == 2 and len(tcp[0]) == len(tcp[1]):
        return {key: int(value) for key, value in zip(tcp[0], tcp[1], strict=True)}
    return {}


def _section(key: str, lines: list[str], sections: Mapping[str, list[str]], cpu_source: str | None) -> dict[str, Any]:
    """What one section of counters.sh's output says, as the keys of bench_parse_counters it sets."""
    kind, _, rest = key.partition(" ")
    if kind == "unit":
        unit, _, cgroup = rest.partition(" ")
        return {"unit": unit, "cgroup": None if cgroup in ("", "none") else cgroup}
    if kind == "cgroup2":
        return {"cpu_usec": read_cpu_stat("\n".join(lines)), "cpu_source": "cgroup2"}
    if kind == "cgroup1" and cpu_source != "cgroup2":
        return {"cpu_usec": read_cpuacct_usage("\n".join(lines)), "cpu_source": "cgroup1"}
    if kind == "stat":
        cpu = [line for line in lines if line.startswith("cpu ")]
        ticks = _first(sections, "clk_tck") or "100"
        if len(cpu) == 2:
            return {
                "host_cpu_usec_first": read_proc_stat(cpu[0], ticks),
                "host_cpu_usec_last": read_proc_stat(cpu[1], ticks),
            }
    if kind == "requests":
        count = lines[0].strip() if lines else ""
        return {"requests_counted": int(count) if count.isdigit() else None}
    if kind == "switches":
        counts = dict(line.split() for line in lines if len(line.split()) == 2)
        return {
            "voluntary_switches": int(counts.get("voluntary", 0)),
            "nonvoluntary_switches": int(counts.get("nonvoluntary", 0)),
        }
    return {}


def bench_parse_counters(text: str) -> dict[str, Any]:
    """What roles/benchmark/files/counters.sh printed on a host, as a dict."""
    sections = _sections(text)
    result: dict[str, Any] = {
        "boot_id": _first(sections, "boot_id"),
        "netns": _first(sections, "netns"),
        "virt": _first(sections, "virt"),
        "tcp": _tcp(sections.get("snmp", [])),
        "unit": None,
        "cgroup": None,
        "cpu_usec": None,
        "cpu_source": None,
        "voluntary_switches": None,
        "nonvoluntary_switches": None,
        # the whole host's busy CPU at the first and at the last line of the read
        "host_cpu_usec_first": None,
        "host_cpu_usec_last": None,
        # the balancer's own count of the requests it took in (its contract's requests_counter)
        "requests_counted": None,
    }
    for key, lines in sections.items():
        result.update(_section(key, lines, sections, result["cpu_source"]))
    return result


_NOT_READ = {"error": "not read"}


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


def _joined(text: Any) -> Any:
    """A tool's [stdout, stderr] as one text: a newline written in a folded YAML template reaches the
    filter as backslash-n, so the role passes the two and they are joined here."""
    return "\n".join(map(str, text)) if isinstance(text, list | tuple) else text


def _kernel_hosts(step: Mapping[str, Any]) -> list[str]:
    """The balancer hosts a step reads whole: those of a balancer that forwards in the kernel."""
    return [read["host"] for read in step.get("reads") or [] if read.get("scope") == "host"]


def _new_sample(
    step: Mapping[str, Any], load: dict[str, Any], wrk_output: str | None, where: str, end: Mapping[tuple, Any]
) -> dict[str, Any]:
    """A load's sample before its CPU is counted: what was loaded, where, and what the load tool (ab,
    or h2load for HTTP/2) and wrk said."""
    target = step["target"]
    virts = sorted({c["virt"] for c in end.values() if c.get("virt")})
    return {
        "round": step["round"],
        "block": step["block"],
        "step": step["step"],
        "index": target.get("index", 0),
        "name": target["name"],
        "kind": target["kind"],
        "mode": target.get("mode", "http"),
        "farm": target.get("farm"),
        "balancer": (target.get("vars") or {}).get("balancer"),
        "url": target["url"],
        # the site.yml variables that set the farm up right before this load (None: it was up)
        "switch": step.get("switch"),
        "where": where or " + ".join(bench_where(v) for v in virts) or "unknown",
        "load": load,
        "wrk": bench_parse_wrk(wrk_output) if wrk_output else None,
        "cpu_us_per_request": dict.fromkeys(COMPONENTS),
        "cpu_us_per_request_by_unit": {},
        "backend_new_connections_per_1000": None,
        "backend_voluntary_switches_per_request": None,
        "backend_shares": {},
        "balancer_host_us_per_request": None,
        "balancer_in_kernel": bool(_kernel_hosts(step)),
        # the balancer's own count of the load's requests (None: it has none, or it was not read)
        "balancer_counted": None,
        "notes": [],
    }


def _client_cpu(output: str, requests: int) -> float | None:
    """The client's CPU per request: the load tool's user + system time, as bash's time printed it."""
    client = re.search(r"^client-cpu ([0-9.]+) ([0-9.]+)\s*$", output, re.M)
    return _per((float(client[1]) + float(client[2])) * 1e6, requests) if client else None


def _cpu_delta(read: Mapping[str, Any], a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """A unit's CPU microseconds over a load from its counters before (a) and after (b), or why not."""
    if "error" in a or "error" in b or a["cpu_usec"] is None or b["cpu_usec"] is None or a["cgroup"] != b["cgroup"]:
        why = a.get("error") or b.get("error") or "its unit has no cgroup CPU time"
        return None, f"no CPU time for {read['unit']} on {read['host']}: {why}"
    delta = b["cpu_usec"] - a["cpu_usec"]
    if delta < 0:
        return None, f"{read['unit']} on {read['host']} restarted during the load: its CPU is not counted"
    return delta, None


class _Load:
    """The CPU and counters of one load, summed per component over its reads."""

    def __init__(self, requests: int, through_balancer: bool) -> None:
        self.requests, self.through_balancer = requests, through_balancer
        self.totals = {"balancer": 0.0, "backends": 0.0}
        self.missing = {"balancer": False, "backends": False}
        self.present = {"balancer": False, "backends": False}
        self.switches: float | None = 0.0
        self.opens: float | None = 0.0
        self.backend_cpu: dict[str, float] = {}
        self.by_unit: dict[str, float | None] = {}
        self.notes: list[str] = []
        # (boot_id, cgroup) of the units counted, (boot_id, netns) of the network namespaces
        self.seen_cgroups: set[tuple[str, str]] = set()
        self.seen_netns: set[tuple[str, str]] = set()

    def count_kernel_balancer(self, name: str, in_kernel: list[str], hosts: Mapping[str, Any]) -> None:
        """A kernel balancer's cost is its hosts' whole CPU: the forwarding runs in no unit."""
        self.present["balancer"] = True
        if hosts["usec"] is None:
            self.notes.append(f"no CPU time for {name} on {', '.join(in_kernel)}: {hosts['why']}")
            self.missing["balancer"] = True
        else:
            self.totals["balancer"] = hosts["usec"]
            self.by_unit[f"{', '.join(in_kernel)} (whole host)"] = _per(hosts["usec"], self.requests)

    def count_unit(self, read: Mapping[str, Any], a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
        """A unit's CPU over the load, from its counters before (a) and after (b)."""
        component = "balancer" if read["role"] == "balancer" else "backends"
        self.present[component] = True
        delta, why = _cpu_delta(read, a, b)
        if why:
            self.notes.append(why)
            self.missing[component] = True
            return
        # Two inventory hosts on one machine (the single-host IPVS lab) share one unit: count it once.
        if (b["boot_id"], b["cgroup"]) in self.seen_cgroups:
            return
        self.seen_cgroups.add((b["boot_id"], b["cgroup"]))
        self.totals[component] += delta
        self.by_unit[f"{read['host']} {read['unit']}"] = _per(delta, self.requests)
        if component == "backends" and self.through_balancer:
            self.backend_cpu[f"{read['host']} {read['unit']}"] = delta
        if component == "backends":
            self.count_backend(a, b)

    def count_backend(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
        """A backend's voluntary context switches, and the connections its network namespace accepted."""
        if self.switches is not None and a["voluntary_switches"] is not None and b["voluntary_switches"] is not None:
            # Threads that exit take their counts with them: a fall means the figure is lost.
            gained = b["voluntary_switches"] - a["voluntary_switches"]
            self.switches = self.switches + gained if gained >= 0 else None
        else:
            self.switches = None
        if (b["boot_id"], b["netns"]) not in self.seen_netns and self.opens is not None:
            self.seen_netns.add((b["boot_id"], b["netns"]))
            gained = b["tcp"].get("PassiveOpens", 0) - a["tcp"].get("PassiveOpens", 0) if b["tcp"] else None
            self.opens = None if gained is None else self.opens + gained

    def figures(self, sample: dict[str, Any]) -> None:
        """Put the load's figures per request in its sample: only those of components read whole."""
        sample["notes"] += self.notes
        sample["cpu_us_per_request_by_unit"].update(self.by_unit)
        for component in ("balancer", "backends"):
            if self.present[component] and not self.missing[component]:
                sample["cpu_us_per_request"][component] = _per(self.totals[component], self.requests)
        backends = self.totals["backends"]
        if len(self.backend_cpu) > 1 and backends > 0 and not self.missing["backends"]:
            sample["backend_shares"] = {unit: round(cpu / backends, 3) for unit, cpu in self.backend_cpu.items()}
        if self.present["backends"] and not self.missing["backends"]:
            sample["backend_voluntary_switches_per_request"] = _per(self.switches, self.requests)
            sample["backend_new_connections_per_1000"] = _per(self.opens, self.requests, 1000)


def bench_sample(
    step: Mapping[str, Any],
    output: Any = "",
    before: Any = None,
    after: Any = None,
    wrk_output: str | None = None,
    error: str | None = None,
    where: str = "",
    client_boot_id: str = "",
) -> dict[str, Any]:
    """One load of a step: the load tool's result and CPU microseconds per request per component.

    output is what the load tool printed (h2load for a target of mode h2, else ab), wrk_output
    what wrk printed; each the text, or [stdout, stderr]. client_boot_id is
    the load client's /proc/sys/kernel/random/boot_id: a balancer host's whole CPU counts only
    where the host runs a kernel of its own, not the client's nor a container's.
    """
    output, wrk_output = _joined(output), _joined(wrk_output)
    parse = bench_parse_h2load if step["target"].get("mode") == "h2" else bench_parse_ab
    load = {"ok": False, "error": error} if error else parse(output)
    start, end = _counters(before), _counters(after)
    sample = _new_sample(step, load, wrk_output, where, end)
    requests = load.get("complete_requests", 0) if load.get("ok") else 0
    if not requests:
        return sample
    sample["cpu_us_per_request"]["client"] = _client_cpu(output, requests)
    hosts = _balancer_hosts_cpu(step, start, end, client_boot_id)
    sample["balancer_host_us_per_request"] = _per(hosts["usec"], requests)
    load = _Load(requests, through_balancer=step["target"]["kind"] != "direct")
    if in_kernel := _kernel_hosts(step):
        load.count_kernel_balancer(step["target"]["name"], in_kernel, hosts)
    for read in step.get("reads") or []:
        if read.get("scope") != "host":
            key = (read["host"], read["unit"])
            load.count_unit(read, start.get(key, _NOT_READ), end.get(key, _NOT_READ))
    load.figures(sample)
    _cross_check(sample, step, start, end, requests)
    return sample


def _cross_check(
    sample: dict[str, Any], step: Mapping[str, Any], start: Mapping[tuple, Any], end: Mapping[tuple, Any], requests: int
) -> None:
    """The balancer's own count of the load's requests (balancer_counted), and a note where it is not
    the client's: over the balancer hosts that count (a pair's two), between the reads around the load."""
    counted = None
    for read in step.get("reads") or []:
        if read["role"] != "balancer" or not read.get("counter"):
            continue
        key = (read["host"], read["unit"])
        a, b = start.get(key, _NOT_READ).get("requests_counted"), end.get(key, _NOT_READ).get("requests_counted")
        if a is None or b is None or b < a:
            why = "restarted during the load" if a is not None and b is not None else "its count was not read"
            sample["notes"].append(f"{read['unit']} on {read['host']}: {why}; its count is not compared")
            return
        counted = (counted or 0) + b - a
    sample["balancer_counted"] = counted
    if counted is not None and counted != requests:
        sample["notes"].append(
            f"{sample['name']} (round {sample['round']}): the balancer counted {counted} requests, "
            f"the client {requests} ({counted - requests:+d})"
        )


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
        a, b = start.get(key, _NOT_READ), end.get(key, _NOT_READ)
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
        if s["kind"] == "direct" and s["load"].get("ok"):
            direct.setdefault(s["round"], []).append(s)
    out = []
    for s in samples:
        beside = [d for d in direct.get(s["round"], []) if d["where"] == s["where"]]
        baseline = sum(d["load"]["requests_per_second"] for d in beside) / len(beside) if beside else None
        ratio = round(s["load"]["requests_per_second"] / baseline, 3) if baseline and s["load"].get("ok") else None
        out.append({**s, "direct_requests_per_second": baseline, "ratio_to_direct": ratio})
    return _ratios_to_http(out)


def _ratios_to_http(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each load over TLS with its rate over its farm's plain-HTTP rate in the same round (same block)."""
    plain = {
        (s["farm"], s["round"]): s["load"]["requests_per_second"]
        for s in samples
        if s["kind"] != "direct" and s.get("mode", "http") == "http" and s["load"].get("ok")
    }
    out = []
    for s in samples:
        base = plain.get((s.get("farm"), s["round"])) if s.get("mode", "http") != "http" else None
        ratio = round(s["load"]["requests_per_second"] / base, 3) if base and s["load"].get("ok") else None
        out.append({**s, "ratio_to_http": ratio})
    return out


def _leave_out(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark a balancer's loads in which a backend served far less than it does in its other loads.

    Such a load measured fewer backends than the farm has; it stays in the report (and in the
    failed and non-2xx sums) but out of the medians, the ranges and the verdict. A backend that
    serves little in every load of a target (drained, or of low weight) is the farm measured.
    """
    usual: dict[tuple[str, str], float] = {}
    for name in {s["name"] for s in samples}:
        loads = [s for s in samples if s["name"] == name and s["load"].get("ok") and s.get("backend_shares")]
        for unit in {u for s in loads for u in s["backend_shares"]}:
            usual[name, unit] = statistics.median(s["backend_shares"].get(unit, 0.0) for s in loads)
    out = []
    for s in samples:
        low = [
            f"{unit} did {share:.0%} of the backends' work ({usual[s['name'], unit]:.0%} in the median load)"
            for unit, share in (s.get("backend_shares") or {}).items()
            if s["load"].get("ok") and share < OUT_OF_ROTATION * usual[s["name"], unit]
        ]
        why = f"{' and '.join(low)}: out of the balancer's rotation, left out of the medians" if low else None
        out.append({**s, "left_out": why})
    return out


def _target_summary(group: list[dict[str, Any]]) -> dict[str, Any]:
    served = [s for s in group if s["load"].get("ok")]
    ok = [s for s in served if not s.get("left_out")]
    wrk = [s["wrk"] for s in group if s.get("wrk") and s["wrk"].get("ok")]
    return {
        "name": group[0]["name"],
        "kind": group[0]["kind"],
        "mode": group[0].get("mode", "http"),
        "farm": group[0].get("farm"),
        "balancer": group[0]["balancer"],
        "where": group[0]["where"],
        "loads": len(group),
        "rounds": len({s["round"] for s in ok}),
        "requests_per_second": _stats(s["load"]["requests_per_second"] for s in ok),
        "ratio_to_direct": _stats(s["ratio_to_direct"] for s in ok),
        "ratio_to_http": _stats(s.get("ratio_to_http") for s in ok),
        # what the loads over TLS negotiated: protocol and cipher, and the application protocol (h2)
        "tls": sorted({s["load"]["tls"] for s in served if s["load"].get("tls")}),
        "application_protocol": sorted(
            {s["load"]["application_protocol"] for s in served if s["load"].get("application_protocol")}
        ),
        "p50_ms": _stats(s["load"]["percentiles_ms"].get("50") for s in ok),
        "p99_ms": _stats(s["load"]["percentiles_ms"].get("99") for s in ok),
        "percentiles_ms": {p: _stats(s["load"]["percentiles_ms"].get(p) for s in ok) for p in AB_PERCENTILES},
        "left_out": [s["step"] for s in served if s.get("left_out")],
        "failed_requests": sum(s["load"]["failed_requests"] for s in served),
        "non_2xx": sum(s["load"]["non_2xx"] for s in served),
        "errors": sorted({s["load"].get("error", "") for s in group if not s["load"].get("ok")}),
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


def _of(name: str) -> str:
    """The possessive of a target's name: nginx's, ipvs's; a load's, of more than one word, ending in s:
    nginx https', nginx TLS handshakes'."""
    return f"{name}'" if " " in name and name.endswith("s") else f"{name}'s"


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
            f"{_of(a['name'])} {what} is {_x(ca['median'] / cb['median'])} {_of(b['name'])} "
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


def _ranked(
    first: Mapping[str, Any], second: Mapping[str, Any], samples: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any], Mapping[str, Any], dict[str, float] | None]:
    """The pair with the one that served more first, by the rounds side by side, else by the medians;
    and the first's ÷ direct over the second's in the rounds where both served."""
    a, b = sorted((first, second), key=lambda t: -t["ratio_to_direct"]["median"])
    paired = _paired(samples, a["name"], b["name"])
    if paired and paired["median"] < 1:
        a, b = b, a
        paired = _paired(samples, a["name"], b["name"])
    return a, b, paired


def _served(a: Mapping[str, Any], b: Mapping[str, Any], paired: Mapping[str, Any] | None) -> tuple[str, str]:
    """How much more a served than b, and over what: the rounds side by side, else the medians."""
    if paired:
        served = f"{a['name']} served {_x(paired['median'])} {b['name']}"
        spread = f"range {paired['min']:.2f}-{paired['max']:.2f} over {_rounds(paired['n'])}"
    else:  # no round where both served: the medians' ratio
        ra, rb = a["ratio_to_direct"], b["ratio_to_direct"]
        served = f"{a['name']} served {_x(ra['median'] / rb['median'])} {b['name']}"
        spread = "no round where both served"
    return served, spread


def _pair_verdict(
    first: Mapping[str, Any], second: Mapping[str, Any], samples: Sequence[Mapping[str, Any]], cpu: bool = True
) -> str:
    """The verdict on two balancers (or variants); cpu=False leaves out their CPU per request (the
    handshakes' has a line of its own, _handshake_verdict)."""
    if first["where"] != second["where"]:
        return (
            f"{first['name']} ({first['where']}) and {second['name']} ({second['where']}) ran in different "
            "places: their figures are not compared"
        )
    if not first["ratio_to_direct"] or not second["ratio_to_direct"]:
        lost = " and ".join(t["name"] for t in (first, second) if not t["ratio_to_direct"])
        return f"{first['name']} and {second['name']}: no ratio to direct for {lost}, so no verdict"
    a, b, paired = _ranked(first, second, samples)
    served, spread = _served(a, b, paired)
    ra, rb = a["ratio_to_direct"], b["ratio_to_direct"]
    tail = f"; {_cpu_phrase(a, b)}" if cpu else ""
    rounds = min(ra["n"], rb["n"])
    chance = bench_chance(ra["n"], rb["n"])
    if ra["min"] <= rb["max"] and rb["min"] <= ra["max"]:
        return (
            f"{a['name']} and {b['name']} are not distinguishable on this machine: their ÷ direct ranges overlap "
            f"({ra['min']:.2f}-{ra['max']:.2f} and {rb['min']:.2f}-{rb['max']:.2f}; {served}, {spread}){tail}"
        )
    if chance > VERDICT_CHANCE:
        # Few rounds give apart ranges by chance: from 3 rounds each, 1 run in 10 names a winner
        # between two balancers that serve the same.
        return (
            f"{a['name']} and {b['name']} are not distinguishable on this machine from {_rounds(rounds)} "
            f"({served}, {spread}): with so few, two balancers that serve the same get ranges apart in "
            f"{_odds(chance)}; run benchmark_rounds={_rounds_needed()} or more{tail}"
        )
    return (
        f"{served} ({spread}; ranges this far apart come by chance in {_odds(chance)} "
        f"between two that serve the same){tail}"
    )


# The goal of HTTPS with keep-alive: at least this share of the same balancer's plain-HTTP rate.
TLS_GOAL = 0.85


def _tls_goal(https: Mapping[str, Any]) -> str:
    """Whether a balancer's keep-alive HTTPS kept TLS_GOAL of its plain-HTTP rate, round by round."""
    ratio, farm = https["ratio_to_http"], https["farm"]
    if not ratio:
        return f"{https['name']}: no round where it and {farm} both served, so no ratio to plain HTTP"
    # judged on the figures as printed (2 decimals): 0.846 reads 0.85 and meets it
    met = "met" if round(ratio["median"], 2) >= TLS_GOAL else "NOT met"
    rounds = (
        "in every round"
        if round(ratio["min"], 2) >= TLS_GOAL
        else f"in the median, not in every round ({ratio['min']:.2f} the lowest)"
    )
    spread = f"range {ratio['min']:.2f}-{ratio['max']:.2f} over {_rounds(ratio['n'])}"
    return (
        f"{https['name']} kept {_x(ratio['median'])} {_of(farm)} plain-HTTP rate ({spread}): the goal, "
        f"{_x(TLS_GOAL)} or more, is {met}" + (f" {rounds}" if met == "met" else "")
    )


def _handshake_verdict(first: Mapping[str, Any], second: Mapping[str, Any]) -> str:
    """Two balancers' CPU per TLS handshake (a new connection per request), ranked with the chance rule
    of the rates: apart only when the ranges over the rounds do not overlap, and a winner named only
    when ranges so far apart come by chance at most VERDICT_CHANCE of the time."""
    ca, cb = (t["cpu_us_per_request"]["balancer"] for t in (first, second))
    if first["where"] != second["where"]:
        return f"{first['farm']} and {second['farm']}: CPU per handshake from different places, not compared"
    if not ca or not cb:
        lost = " and ".join(t["farm"] for t, c in ((first, ca), (second, cb)) if not c)
        return f"CPU per TLS handshake not measured for {lost} (no cgroup CPU time for its unit)"
    (a, ca), (b, cb) = sorted(((first, ca), (second, cb)), key=lambda pair: pair[1]["median"])
    costs = " vs ".join(f"{c['median']:.0f} µs ({c['min']:.0f}-{c['max']:.0f})" for c in (ca, cb))
    chance = bench_chance(ca["n"], cb["n"])
    if ca["max"] >= cb["min"]:
        return (
            f"{a['farm']} and {b['farm']} spend CPU per TLS handshake that this machine cannot tell apart: "
            f"{costs}, ranges overlap"
        )
    if chance > VERDICT_CHANCE:
        return (
            f"{a['farm']} and {_of(b['farm'])} CPU per TLS handshake are not distinguishable from "
            f"{_rounds(min(ca['n'], cb['n']))} ({costs}): ranges so far apart come by chance in {_odds(chance)}"
        )
    return (
        f"{a['farm']} spends {_x(ca['median'] / cb['median'])} {_of(b['farm'])} CPU per TLS handshake "
        f"({costs}; ranges this far apart come by chance in {_odds(chance)} between two that cost the same)"
    )


def bench_verdict(targets: Sequence[Mapping[str, Any]], samples: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per pair of balancers (and variants) that ran in the same place, load by load (plain
    HTTP with plain HTTP, HTTP/2 with HTTP/2...); CPU per TLS handshake ranked per pair; and for each
    balancer loaded over HTTPS with keep-alive, whether it kept TLS_GOAL of its plain-HTTP rate."""
    balancers = [t for t in targets if t["kind"] != "direct"]
    lines = []
    for mode in dict.fromkeys(t.get("mode", "http") for t in balancers):
        alike = [t for t in balancers if t.get("mode", "http") == mode]
        for first, second in itertools.combinations(alike, 2):
            lines.append(_pair_verdict(first, second, samples, cpu=mode != "handshakes"))
            if mode == "handshakes":
                lines.append(_handshake_verdict(first, second))
    return lines + [_tls_goal(t) for t in balancers if t.get("mode") == "https"]


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


def _md_intro(run: Mapping[str, Any], wheres: list[str]) -> list[str]:
    """The report's title and the sentence on what was run, from where, on what."""
    rounds = run.get("rounds") or max((s["round"] for s in run.get("samples") or []), default=0)
    # the loads over TLS of the run, each with its command (run["commands"]: {mode: command})
    modes = dict.fromkeys(s.get("mode") for s in run.get("samples") or [] if s.get("mode", "http") != "http")
    commands = run.get("commands") or {}
    over_tls = "; ".join(f"`{commands[m]}` ({TLS_LOADS[m][1]})" for m in modes if m in commands)
    return [
        f"# lbfarm benchmark, {run.get('started', '')}",
        "",
        f"{_rounds(rounds)} of `{run.get('command', '')}`"
        + (f", and over HTTPS {over_tls}," if over_tls else "")
        + f" from {run.get('client') or 'the controller'}, "
        f"on {' and '.join(wheres)}; "
        f"{run.get('machine', '')}."
        + (f" The run took {bench_duration(run['seconds'])}." if run.get("seconds") is not None else ""),
        "",
    ]


def _md_targets(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table of the targets: rates, ratio to direct, latency, failures."""
    lines = [
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
    return lines


def _md_cpu_row(t: Mapping[str, Any], whole: bool) -> str:
    cpu = t["cpu_us_per_request"]
    known = [cpu[c]["median"] for c in COMPONENTS if cpu[c]]
    whole_host = t.get("balancer_in_kernel") and cpu["balancer"]
    balancer = _median(cpu["balancer"]) + (" (whole host)" if whole_host else "")
    return (
        f"| {t['name']} | {_median(cpu['client'])} | {balancer} | {_median(cpu['backends'])} "
        f"| {_cell(sum(known)) if known else '-'} |"
        + (f" {_median(t.get('balancer_host_us_per_request'))} |" if whole else "")
        + f" {_median(t['backend_new_connections_per_1000'], 1)} "
        f"| {_median(t['backend_voluntary_switches_per_request'], 2)} |"
    )


def _md_cpu(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table of CPU per request by component, and the backends' connections and switches."""
    # The balancer hosts' whole CPU, where they run kernels of their own (VMs): the one figure a
    # kernel balancer (IPVS) and a daemon share.
    whole = any(t.get("balancer_host_us_per_request") for t in targets)
    return [
        "",
        "CPU per request in µs (median over the loads), read from each unit's cgroup and the client's own time"
        + (", and the balancer hosts' /proc/stat:" if whole else ":"),
        "",
        "| target | client | balancer | backends | total |"
        + (" balancer host, whole |" if whole else "")
        + " backend new connections / 1000 requests | Apache voluntary switches / request |",
        "|---|---|---|---|---|" + ("---|" if whole else "") + "---|---|",
    ] + [_md_cpu_row(t, whole) for t in targets]


def _md_tls(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table of the loads over TLS, each beside its balancer's plain HTTP."""
    over_tls = [t for t in targets if t.get("mode", "http") != "http"]
    if not over_tls:
        return []
    lines = [
        "",
        "Over TLS, each load beside its balancer's plain HTTP in the same block (÷ plain HTTP: per round, then "
        "median and range); balancer CPU per request, which for TLS handshakes is the CPU per handshake:",
        "",
        "| target | load | req/s | ÷ plain HTTP | p99 ms | balancer CPU µs/request | negotiated | failed | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in over_tls:
        negotiated = ", ".join(t.get("tls") or []) + "".join(f", {a}" for a in t.get("application_protocol") or [])
        lines.append(
            f"| {t['name']} | {TLS_LOADS[t['mode']][1]} | {_spread(t['requests_per_second'])} "
            f"| {_spread(t['ratio_to_http'], 2)} | {_spread(t['p99_ms'])} "
            f"| {_spread(t['cpu_us_per_request']['balancer'])} | {negotiated or '-'} "
            f"| {t['failed_requests']} | {t['non_2xx']} |"
        )
    return lines


def _md_wrk(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table of wrk's figures, when it ran."""
    wrk = [t for t in targets if t["wrk_requests_per_second"]]
    if not wrk:
        return []
    return ["", "wrk, beside ab:", "", "| target | req/s | p99 ms |", "|---|---|---|"] + [
        f"| {t['name']} | {_spread(t['wrk_requests_per_second'])} | {_spread(t['wrk_p99_ms'], 2)} |" for t in wrk
    ]


def _md_load_row(s: Mapping[str, Any]) -> str:
    ab, cpu = s["load"], s["cpu_us_per_request"]
    if not ab.get("ok"):
        return f"| {s['step']} | {s['round']} | {s['name']} | FAILED: {ab.get('error', '')} | | | | | |"
    return (
        f"| {s['step']} | {s['round']} | {s['name']} | {_cell(ab['requests_per_second'])} "
        f"| {_cell(s.get('ratio_to_direct'), 2)}{' (left out)' if s.get('left_out') else ''} "
        f"| {_cell(ab['percentiles_ms'].get('99'))} "
        f"| {ab['failed_requests']} | {ab['non_2xx']} | {', '.join(_cell(cpu[c]) for c in COMPONENTS)} |"
    )


def _md_loads(samples: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table of every load, in the order run."""
    return [
        "",
        "Every load, in the order run:",
        "",
        "| # | round | target | req/s | ÷ direct | p99 ms | failed | non-2xx "
        "| CPU µs/request client, balancer, backends |",
        "|---|---|---|---|---|---|---|---|---|",
    ] + [_md_load_row(s) for s in sorted(samples, key=lambda s: s["step"])]


_MD_LEGEND = (
    "req/s, p50, p99: median over the loads, (min-max) when they differ. ÷ direct: in each round, the "
    "target's requests/s over the mean of the backends loaded directly in the same round (beside each "
    "balancer of the round), then the median and range of those ratios. failed and non-2xx: "
    "summed over the loads, as ab (with its failed TLS handshakes) and h2load count them. CPU: the "
    "unit's cgroup CPU time over the load window "
    "(balancer: its unit on the balancer hosts, or for a kernel balancer such as IPVS their whole busy "
    "CPU; backends: Apache on every backend; client: the load tool's user + system time), divided by the requests "
    "served. Figures from different places (containers, VMs, emulated VMs) are never put in one ratio."
)
_MD_EMULATED = (
    "Under emulation (TCG) a guest's clock runs on while its vCPU waits for a core of this machine, "
    "and the guest counts that wait as CPU time: the VMs' CPU figures mix cost with waiting, and "
    "compare only with each other, in this run."
)


def _md_notes(samples: Sequence[Mapping[str, Any]], wheres: list[str]) -> list[str]:
    """The samples' notes, the loads left out and why, and the caveat of emulation."""
    notes = sorted({note for s in samples for note in s["notes"]})
    notes += [
        f"load {s['step']} ({s['name']}): {s['left_out']}"
        for s in sorted(samples, key=lambda s: s["step"])
        if s.get("left_out")
    ]
    if any("emulated" in where for where in wheres):
        notes.append(_MD_EMULATED)
    checked = [s for s in samples if s.get("balancer_counted") is not None]
    if checked:
        same = sum(s["balancer_counted"] == s["load"].get("complete_requests") for s in checked)
        notes.append(
            f"the balancers' own request counts (requests_counter in the contract) were read around {len(checked)} "
            f"loads: {same} matched the client's count, {len(checked) - same} did not (above)"
        )
    return ["", "Notes:", ""] + [f"- {note}" for note in notes] if notes else []


def bench_markdown(run: Mapping[str, Any]) -> str:
    """Render a summarised run as a Markdown report."""
    targets = run.get("targets") or []
    samples = run.get("samples") or []
    wheres = sorted({t["where"] for t in targets})
    verdict = run.get("verdict") or ["no two balancers to compare"]
    lines = _md_intro(run, wheres) + _md_targets(targets) + _md_cpu(targets) + _md_tls(targets) + _md_wrk(targets)
    lines += ["", "Verdict:", ""] + [f"- {line}" for line in verdict]
    lines += [*_md_loads(samples), "", _MD_LEGEND, *_md_notes(samples, wheres)]
    return "\n".join(lines) + "\n"


def bench_progress(samples: Sequence[Mapping[str, Any]], elapsed: float = 0.0) -> str:
    """The progress line of the last sample of a run so far."""
    last = _ratios(list(samples))[-1]
    ab = last["load"]
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
            "bench_parse_h2load": bench_parse_h2load,
            "bench_parse_counters": bench_parse_counters,
            "bench_farms": bench_farms,
            "bench_overlay": bench_overlay,
            "bench_targets": bench_targets,
            "bench_plan": bench_plan,
            "bench_sample": bench_sample,
            "bench_summary": bench_summary,
            "bench_markdown": bench_markdown,
            "bench_progress": bench_progress,
            "bench_duration": bench_duration,
        }
