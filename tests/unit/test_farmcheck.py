"""farmcheck's request counting, against a small HTTP server on loopback that plays two backends."""

import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import farmcheck
import pytest


@pytest.fixture
def farm_url() -> Iterator[str]:
    """Answers 200 with X-Backend m1, m1, m2, m1, m1, m2... (weights 2:1), then 503 on /down."""
    turns = itertools.cycle(["m1", "m1", "m2"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503 if self.path == "/down" else 200)
            if self.path != "/down":
                self.send_header("X-Backend", next(turns))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_count_backends_counts_who_answered(farm_url) -> None:
    assert farmcheck.count_backends(farm_url, 6) == {"m1": 4, "m2": 2}


def test_failures_are_counted_by_status(farm_url) -> None:
    assert farmcheck.count_backends(farm_url + "down", 2) == {"HTTP 503": 2}
    assert farmcheck.count_backends("http://127.0.0.1:9/", 1) == {"HTTP 0": 1}


def test_command_line_prints_the_counts_as_json(farm_url) -> None:
    # what count_backends_in_netns runs inside the lab client's network namespace
    out = subprocess.run(
        [sys.executable, farmcheck.__file__, "count", farm_url, "3"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == '{"m1": 2, "m2": 1}'


def test_a_paced_load_sends_about_its_rate(farm_url) -> None:
    with farmcheck.Load(farm_url, clients=4, rate=100) as load:
        time.sleep(2)
    assert load.failed == 0
    assert 150 <= load.total <= 260, load.summary()  # 2 s at 100 a second, give or take a request per client


def test_an_unpaced_load_sends_as_fast_as_it_can(farm_url) -> None:
    with farmcheck.Load(farm_url, clients=4) as load:
        time.sleep(1)
    assert load.total > 300, load.summary()
