"""The benchmark chart module draws a run aggregated from captured ab output and counters."""

from __future__ import annotations

import copy
from pathlib import Path

import modules
import pytest
from benchmark_role import bench
from benchmark_role import targets as role_targets

DATA = Path(__file__).parent / "data"
HOSTS = {"balancers": ["m3"], "backends": ["m1", "m2"]}
UNITS = {"backend": "apache2", "balancers": {"nginx": "nginx", "haproxy": "haproxy"}}


def load_module():
    return modules.load("roles/benchmark/library/bench_chart.py")


def counters(when: str) -> dict:
    units = {"m3": "haproxy", "m1": "apache2", "m2": "apache2"}
    return {
        "results": [
            {"item": {"host": h, "unit": u}, "rc": 0, "stdout": (DATA / f"counters_{h}_{when}.txt").read_text()}
            for h, u in units.items()
        ]
    }


def run(rounds: int = 3) -> dict:
    """A run of captured loads: the haproxy load's counters for every balancer, rates varied per round."""
    backends = [{"name": "m1", "address": "10.0.0.2", "port": 80}, {"name": "m2", "address": "10.0.0.3", "port": 80}]
    targets = role_targets(backends, {"inventory_hostname": "m3", "lab_address": "10.0.0.4"}, ["nginx", "haproxy"])
    ab = (DATA / "ab_timed.txt").read_text()
    samples = []
    for step in bench.bench_plan(targets, rounds, HOSTS, UNITS):
        if step["target"]["name"] == "haproxy" and step["round"] == 2:
            samples.append(bench.bench_sample(step, error="apr_socket_recv: Connection refused (111)"))
            continue
        sample = copy.deepcopy(bench.bench_sample(step, ab, counters("before"), counters("after")))
        sample["load"]["requests_per_second"] *= (
            1 + 0.1 * step["round"] + (0.5 if step["target"]["kind"] == "direct" else 0)
        )
        if step["target"]["kind"] == "direct":
            sample["load"]["percentiles_ms"]["50"] = 0.0  # ab's "0 ms": under its 1 ms resolution
        samples.append(sample)
    return bench.bench_summary(
        {"started": "2026-11-24 07:00", "rounds": rounds, "command": "ab -k", "samples": samples}
    )


def test_chart_is_a_png() -> None:
    png = load_module().render(run())
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000


@pytest.fixture
def axes():
    from matplotlib import pyplot as plt

    fig = load_module().figure(run())
    fig.canvas.draw()
    yield fig.axes
    plt.close(fig)


def test_rates_have_min_max_error_bars(axes) -> None:
    rate = axes[0]
    errorbars, bars = rate.containers
    summary = run()
    for bar, segment, target in zip(bars, errorbars.lines[2][0].get_segments(), summary["targets"], strict=True):
        stats = target["requests_per_second"]
        assert bar.get_height() == pytest.approx(stats["median"])
        assert [y for _, y in segment] == pytest.approx([stats["min"], stats["max"]])
    assert [t.get_text() for t in rate.texts] == ["1.00x", "1.00x", "0.71x", "0.70x"]  # median ÷ direct
    assert [t.get_text() for t in rate.get_xticklabels()] == ["m1 direct", "m2 direct", "nginx", "haproxy"]


def test_latency_axis_is_log_without_a_zero_tick(axes) -> None:
    latency = axes[1]
    assert latency.get_yscale() == "log"
    low, high = latency.get_ylim()
    ticks = [t.get_text() for t in latency.get_yticklabels() if low <= t.get_position()[1] <= high]
    assert ticks[:3] == ["<1", "1", "2"]  # ab's 0 ms (under its 1 ms resolution) drawn at 0.5
    assert "0" not in ticks
    assert all(min(line.get_ydata()) > 0 for line in latency.lines)
    assert [line.get_label() for line in latency.lines] == ["m1 direct", "m2 direct", "nginx", "haproxy"]


def test_cpu_is_stacked_by_component(axes) -> None:
    cpu = axes[2]
    assert [t.get_text() for t in cpu.get_legend().get_texts()] == ["client", "balancer", "backends"]
    client, balancer, backends = cpu.containers
    nginx = 2
    assert balancer[nginx].get_y() == pytest.approx(client[nginx].get_height())
    assert backends[nginx].get_y() == pytest.approx(client[nginx].get_height() + balancer[nginx].get_height())
    assert balancer[0].get_height() == 0  # no balancer in front of a backend loaded directly


def test_a_target_that_never_served_is_marked_failed() -> None:
    summary = run(rounds=1)
    for sample in summary["samples"]:
        if sample["name"] == "nginx":
            sample["load"] = {"ok": False, "error": "refused"}
    summary = bench.bench_summary({**summary, "samples": summary["samples"]})
    fig = load_module().figure(summary)
    assert "FAILED" in [t.get_text() for t in fig.axes[0].texts]
