#!/usr/bin/python
"""Draw a benchmark run as a PNG: requests/s with their spread, latency percentiles, CPU per request."""

from __future__ import annotations

import io
import os

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: bench_chart
short_description: Draw an lbfarm benchmark run as a PNG chart
description:
  - Left, requests per second of every target, the median over the rounds with min-max error bars
    and the median ratio to direct above each bar, coloured by load (HTTP, and over TLS keep-alive
    HTTPS, a new handshake per request, HTTP/2). Middle, ab's latency percentiles (50 % to 100 %,
    medians over the rounds) on a log axis. Right, CPU microseconds per request stacked by component
    (client, balancer, backends). A target with no successful load shows as FAILED.
  - Needs matplotlib on the controller (it is in requirements.txt).
options:
  run:
    description: A run aggregated by the bench_summary filter.
    type: dict
    required: true
  dest:
    description: Path of the PNG file.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Draw the chart
  bench_chart:
    run: "{{ _benchmark_run }}"
    dest: reports/benchmark/chart.png
"""

PERCENTILES = ("50", "66", "75", "80", "90", "95", "98", "99", "100")
COMPONENTS = (("client", "#9aa5b1"), ("balancer", "#d9822b"), ("backends", "#2f6fb0"))
# Bars of the loads through a balancer by what they load: plain HTTP, and over TLS keep-alive HTTPS,
# a new TLS handshake per request, HTTP/2 (the grey bars are the backends loaded directly).
MODES = {"http": "#2f6fb0", "https": "#2e8b57", "handshakes": "#c0392b", "h2": "#8e44ad"}
MARKERS = ("o", "s", "^", "D", "v", "P")
MODE_LABELS = ("HTTP", "HTTPS, keep-alive", "TLS handshake per request", "HTTP/2 (h2load)")
# ab reports whole milliseconds: "0" means under 1 ms, drawn at half of one on the log axis.
FLOOR_MS = 0.5


def _median(stats: dict | None) -> float:
    return stats["median"] if stats else 0.0


def figure(run: dict):
    """The chart of one run, as a matplotlib figure (render saves it as PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    targets = run.get("targets") or []
    names = [t["name"] for t in targets]
    where = " and ".join(sorted({t["where"] for t in targets}))
    fig, (rate, latency, cpu) = plt.subplots(1, 3, figsize=(16, 5.5), gridspec_kw={"width_ratios": [2, 3, 2]})
    fig.suptitle(
        f"lbfarm benchmark {run.get('started', '')}, {run.get('rounds', '?')} rounds on {where}: "
        f"{run.get('command', '')}" + (", and over TLS (colours)" if run.get("commands") else ""),
        fontsize=11,
    )

    medians, low, high = [], [], []
    for target in targets:
        stats = target.get("requests_per_second")
        medians.append(_median(stats))
        low.append(stats["median"] - stats["min"] if stats else 0)
        high.append(stats["max"] - stats["median"] if stats else 0)
    colors = ["#9aa5b1" if t["kind"] == "direct" else MODES.get(t.get("mode", "http"), "#2f6fb0") for t in targets]
    bars = rate.bar(range(len(targets)), medians, yerr=[low, high], capsize=4, color=colors)
    for bar, target, top in zip(bars, targets, high, strict=True):
        ratio = target.get("ratio_to_direct")
        label = "FAILED" if not target.get("requests_per_second") else (f"{ratio['median']:.2f}x" if ratio else "")
        rate.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height() + top), ha="center", va="bottom")
    rate.set_xticks(range(len(targets)), names, rotation=25, ha="right", fontsize=8)
    rate.set_ylabel("requests/s, median and min-max (label: x direct)")
    if any(t.get("mode", "http") != "http" for t in targets):
        rate.legend(
            handles=[Patch(color=color, label=label) for label, color in zip(MODE_LABELS, MODES.values(), strict=True)],
            fontsize=8,
        )
    rate.grid(True, axis="y", alpha=0.3)

    # a line per target: coloured by its load as its bar is, when the run has loads over TLS (a
    # marker per farm tells the balancers apart), else one colour per target
    by_load = any(t.get("mode", "http") != "http" for t in targets)
    farms = list(dict.fromkeys(t.get("farm") for t in targets if t["kind"] != "direct"))
    for target in targets:
        pct = target.get("percentiles_ms") or {}
        values = [max(_median(pct.get(p)), FLOOR_MS) for p in PERCENTILES]
        # h2load gives no percentiles: its loads have no line here
        if target.get("requests_per_second") and any(pct.get(p) for p in PERCENTILES):
            style = "--" if target["kind"] == "direct" else "-"
            look = {"marker": "o"}
            if by_load:
                look["color"] = colors[targets.index(target)]
                if target["kind"] != "direct":
                    look["marker"] = MARKERS[farms.index(target.get("farm")) % len(MARKERS)]
            latency.plot(PERCENTILES, values, style, label=target["name"], **look)
    latency.set_yscale("log")
    latency.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    latency.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "<1" if v == FLOOR_MS else f"{v:g}"))
    latency.yaxis.set_minor_formatter(NullFormatter())
    latency.set_xlabel("share of requests served within (%)")
    latency.set_ylabel("latency, ms (log; median over the rounds)")
    latency.grid(True, which="major", alpha=0.3)
    if latency.lines:
        latency.legend(fontsize=8)

    bottom = [0.0] * len(targets)
    for component, color in COMPONENTS:
        values = [_median((t.get("cpu_us_per_request") or {}).get(component)) for t in targets]
        cpu.bar(range(len(targets)), values, bottom=bottom, color=color, label=component)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    cpu.set_xticks(range(len(targets)), names, rotation=25, ha="right", fontsize=8)
    cpu.set_ylabel("CPU µs per request (median)")
    cpu.grid(True, axis="y", alpha=0.3)
    cpu.legend(fontsize=8)

    fig.tight_layout()
    return fig


def render(run: dict) -> bytes:
    """The chart of one run, as PNG bytes."""
    from matplotlib import pyplot as plt

    fig = figure(run)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)
    return out.getvalue()


def main() -> None:
    module = AnsibleModule(
        argument_spec={"run": {"type": "dict", "required": True}, "dest": {"type": "path", "required": True}},
        supports_check_mode=True,
    )
    dest = module.params["dest"]
    try:
        png = render(module.params["run"])
    except ImportError:
        module.fail_json(msg="bench_chart needs matplotlib in the controller's Python: run make deps")
    old = None
    if os.path.exists(dest):
        with open(dest, "rb") as stream:
            old = stream.read()
    changed = old != png
    if changed and not module.check_mode:
        with open(dest, "wb") as stream:
            stream.write(png)
    module.exit_json(changed=changed, dest=dest, size=len(png))


if __name__ == "__main__":
    main()
