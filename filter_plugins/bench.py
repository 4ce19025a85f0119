"""lbfarm benchmark filters: parse ab and wrk output, compare targets, render the Markdown report."""

from __future__ import annotations

import importlib.util
import re
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
  short_description: Parse ab and wrk output and report a benchmark run
  description:
    - C(bench_parse_ab) and C(bench_parse_wrk) turn the text a run of ab or wrk printed into a dict;
      a run that served nothing comes back with C(ok=false) and the tool's last words as C(error).
    - C(bench_targets) lists what a run loads - each backend directly, then each balancer and
      variant where the farm answers for it (farm_endpoints of the balancer host) - with the URL and
      the site.yml variables of each.
    - C(bench_compare) adds to each target its ratio to the direct baseline (the mean rate of the
      backends hit directly).
    - C(bench_markdown) renders a compared run as a Markdown report.
"""

EXAMPLES = r"""
_result: "{{ _ab.stdout | bench_parse_ab }}"
# {'ok': true, 'requests_per_second': 3673.18, 'failed_requests': 0, 'non_2xx': 0,
#  'percentiles_ms': {'50': 4, '66': 5, ..., '100': 39}, ...}
_run: "{{ {'targets': _targets} | bench_compare }}"
_report: "{{ _run | bench_markdown }}"
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


def bench_compare(run: Mapping[str, Any]) -> dict[str, Any]:
    """Add each target's ratio to the direct baseline (mean requests/s of the direct targets)."""
    targets = run.get("targets") if isinstance(run, Mapping) else None
    if not isinstance(targets, Sequence) or not targets:
        raise AnsibleFilterError("bench_compare expects {'targets': [...]} with at least one target")
    direct = [t["ab"]["requests_per_second"] for t in targets if t.get("kind") == "direct" and t["ab"].get("ok")]
    baseline = sum(direct) / len(direct) if direct else None
    compared = []
    for target in targets:
        ab = target["ab"]
        ratio = round(ab["requests_per_second"] / baseline, 2) if baseline and ab.get("ok") else None
        compared.append({**target, "ratio_to_direct": ratio})
    return {**run, "baseline_requests_per_second": baseline, "targets": compared}


def _cell(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}".replace(",", " ")
    return str(value)


def bench_markdown(run: Mapping[str, Any]) -> str:
    """Render a compared run as a Markdown report: one row per target."""
    targets = run.get("targets") or []
    head = ["target", "req/s", "÷ direct", "failed", "non-2xx", "KB/s", "mean ms"]
    head += [f"{p} %" for p in AB_PERCENTILES]
    lines = [
        f"# lbfarm benchmark, {run.get('started', '')}",
        "",
        f"`{run.get('command', '')}` from the controller; {run.get('machine', '')}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for target in targets:
        ab = target["ab"]
        if not ab.get("ok"):
            row = [f"**{target['name']}**", "FAILED", "-", "-", "-", "-", "-"] + ["-"] * len(AB_PERCENTILES)
            row[3] = ab.get("error", "")
        else:
            row = [
                target["name"],
                _cell(ab["requests_per_second"]),
                _cell(target.get("ratio_to_direct"), 2),
                _cell(ab["failed_requests"]),
                _cell(ab["non_2xx"]),
                _cell(ab["transfer_kbytes_per_second"]),
                _cell(ab["mean_latency_ms"], 2),
            ] + [_cell(ab["percentiles_ms"].get(p)) for p in AB_PERCENTILES]
        lines.append("| " + " | ".join(row) + " |")
    wrk_rows = [t for t in targets if t.get("wrk")]
    if wrk_rows:
        lines += [
            "",
            "wrk:",
            "",
            "| target | req/s | errors | non-2xx | 50 % | 75 % | 90 % | 99 % |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for target in wrk_rows:
            wrk = target["wrk"]
            if not wrk.get("ok"):
                lines.append(f"| **{target['name']}** | FAILED | {wrk.get('error', '')} | | | | | |")
                continue
            pct = [_cell(wrk["percentiles_ms"].get(p), 2) for p in ("50", "75", "90", "99")]
            lines.append(
                f"| {target['name']} | {_cell(wrk['requests_per_second'])} | {wrk['failed_requests']} "
                f"| {wrk['non_2xx']} | " + " | ".join(pct) + " |"
            )
    lines += [
        "",
        "÷ direct: the target's requests/s over the mean of the backends hit directly, in the same run "
        "(the ceiling a balancer can only approach on this machine). Latencies in ms; failed and non-2xx "
        "requests are counted as ab reports them.",
    ]
    return "\n".join(lines) + "\n"


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "bench_parse_ab": bench_parse_ab,
            "bench_parse_wrk": bench_parse_wrk,
            "bench_targets": bench_targets,
            "bench_compare": bench_compare,
            "bench_markdown": bench_markdown,
        }
