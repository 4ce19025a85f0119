"""The benchmark chart module draws a PNG from a compared run, failed targets included."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from filter_plugins import bench

MODULE = Path(__file__).parents[2] / "roles/benchmark/library/bench_chart.py"
DATA = Path(__file__).parent / "data"


def load_module():
    spec = importlib.util.spec_from_file_location("bench_chart", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chart_is_a_png_with_every_target(tmp_path) -> None:
    ok = bench.bench_parse_ab((DATA / "ab_ok.txt").read_text())
    run = bench.bench_compare(
        {
            "started": "2026-11-21",
            "command": "ab -k",
            "targets": [
                {"name": "m1 direct", "kind": "direct", "ab": ok},
                {"name": "nginx", "kind": "balancer", "ab": ok},
                {"name": "gone", "kind": "balancer", "ab": {"ok": False, "error": "refused"}},
            ],
        }
    )
    png = load_module().render(run)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000
