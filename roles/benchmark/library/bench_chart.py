#!/usr/bin/python
"""Draw a benchmark run as a PNG: latency percentiles per target, and requests/s bars."""

from __future__ import annotations

import io
import os

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: bench_chart
short_description: Draw an lbfarm benchmark run as a PNG chart
description:
  - Left, ab's latency percentiles (50 % to 100 %) of every target; right, requests per second of
    every target with its ratio to the direct baseline. A target that failed shows as FAILED.
  - Needs matplotlib on the controller (it is in requirements.txt).
options:
  run:
    description: A run compared by the bench_compare filter.
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


def render(run: dict) -> bytes:
    """The chart of one run, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    targets = run.get("targets") or []
    fig, (latency, rate) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    fig.suptitle(f"lbfarm benchmark {run.get('started', '')}: {run.get('command', '')}", fontsize=11)

    for target in targets:
        ab = target["ab"]
        if ab.get("ok") and ab.get("percentiles_ms"):
            values = [ab["percentiles_ms"].get(p) for p in PERCENTILES]
            style = "--" if target.get("kind") == "direct" else "-"
            latency.plot(PERCENTILES, values, style, marker="o", label=target["name"])
    latency.set_xlabel("share of requests served within (%)")
    latency.set_ylabel("latency (ms)")
    latency.set_yscale("symlog", linthresh=1)
    ticks = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]
    top = max((max(line.get_ydata(), default=0) for line in latency.lines), default=1)
    latency.set_yticks([t for t in ticks if t <= max(top, 1) * 2], [str(t) for t in ticks if t <= max(top, 1) * 2])
    latency.grid(True, alpha=0.3)
    if latency.lines:
        latency.legend(fontsize=8)

    names = [t["name"] for t in targets]
    rates = [t["ab"]["requests_per_second"] if t["ab"].get("ok") else 0 for t in targets]
    colors = ["#9aa5b1" if t.get("kind") == "direct" else "#2f6fb0" for t in targets]
    bars = rate.bar(range(len(targets)), rates, color=colors)
    for bar, target in zip(bars, targets, strict=True):
        ratio = target.get("ratio_to_direct")
        label = "FAILED" if not target["ab"].get("ok") else (f"{ratio:.2f}x" if ratio is not None else "")
        rate.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    rate.set_xticks(range(len(targets)), names, rotation=25, ha="right", fontsize=8)
    rate.set_ylabel("requests per second (label: x direct baseline)")
    rate.grid(True, axis="y", alpha=0.3)

    fig.tight_layout()
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
