"""The proof's module (roles/balancer/library/farm_proof.py) against real HTTP servers on loopback.

Each server answers like a farm: a header X-Backend chosen by a rule of the test (a weighted round
robin, the same interleaved at random with other clients, one backend down, an unknown one).
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import modules
import pytest
from ansible.module_utils.testing import patch_module_args
from pki import issue, pem

SHARES = {"m1": 2 / 3, "m2": 1 / 3}


fp = modules.load("roles/balancer/library/farm_proof.py")


@contextmanager
def farm(answer: Callable[[], tuple[int, str]], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """A server on loopback whose every answer is (status, X-Backend) from `answer`; yields its URL
    (https with `tls`, the server's context)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, backend = answer()
            self.send_response(status)
            if backend:
                self.send_header("X-Backend", backend)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def weighted_round_robin() -> Callable[[], tuple[int, str]]:
    order = itertools.cycle(["m1", "m2", "m1"])
    lock = threading.Lock()

    def answer() -> tuple[int, str]:
        with lock:
            return 200, next(order)

    return answer


def test_six_requests_through_a_round_robin_show_both_backends() -> None:
    with farm(weighted_round_robin()) as url:
        got = fp.prove(url, SHARES)
    assert got["backends"] == ["m1", "m2", "m1", "m1", "m2", "m1"]
    assert got["counts"] == {"m1": 4, "m2": 2}
    assert (got["missing"], got["unexpected"]) == ([], [])


def test_interleaved_with_other_clients_it_never_misses_a_backend() -> None:
    """Other clients' requests between ours leave each of ours a random backend by the weights:
    six requests alone would miss m2 in 1 run of 11; the proof goes on until both answered."""
    rng = random.Random(27)
    with farm(lambda: (200, "m1" if rng.random() < 2 / 3 else "m2")) as url:
        runs = [fp.prove(url, SHARES) for _ in range(200)]
    assert all(run["missing"] == [] for run in runs)
    assert any(len(run["backends"]) > 6 for run in runs), "no run needed more than six: the test proves nothing"
    assert max(len(run["backends"]) for run in runs) <= fp.request_bound(SHARES, 6, 1000)


def test_two_clients_at_once_through_one_balancer_both_see_every_backend() -> None:
    """The pair's failure of 2026-12-06: two proofs side by side through one round robin."""
    with farm(weighted_round_robin()) as url, ThreadPoolExecutor(2) as pool:
        for _ in range(20):
            results = list(pool.map(lambda _: fp.prove(url, SHARES), range(2)))
            assert [run["missing"] for run in results] == [[], []], results


def test_a_backend_that_never_answers_is_named_after_the_bound() -> None:
    with farm(lambda: (200, "m1")) as url:
        got = fp.prove(url, SHARES)
    assert got["missing"] == ["m2"]
    assert len(got["backends"]) == fp.request_bound(SHARES, 6, 1000) == 60


def test_a_backend_without_a_share_that_answers_is_named() -> None:
    with farm(weighted_round_robin()) as url:
        got = fp.prove(url, {"m1": 1.0})
    assert got["unexpected"] == ["m2"]


def test_an_answer_without_the_header_counts_as_none() -> None:
    with farm(lambda: (200, "")) as url:
        got = fp.prove(url, {"m1": 1.0})
    assert got["unexpected"] == ["none"]
    assert got["missing"] == ["m1"]


def test_failed_requests_are_tried_again_until_the_farm_answers() -> None:
    answers = iter([(503, "")] * 3)
    naps: list[float] = []
    with farm(lambda: next(answers, (200, "m1"))) as url:
        got = fp.prove(url, {"m1": 1.0}, sleep=naps.append)
    assert got["backends"] == ["m1"] * 6
    assert naps == [1, 1, 1]


def test_a_farm_that_never_answers_fails_with_the_last_error() -> None:
    with farm(lambda: (502, "")) as url:
        got = fp.prove(url, SHARES, retries=3, sleep=lambda _: None)
    assert got["failed"]
    assert "did not answer 200 after 3 tries: HTTP 502" in got["msg"]


def test_nothing_listening_is_a_refusal() -> None:
    status, said = fp.get_backend("http://127.0.0.1:9/", 2)
    assert status == 0
    assert "refused" in said.lower()


def test_request_bound() -> None:
    assert fp.request_bound({"m1": 0.5, "m2": 0.5}, 6, 1000) == 40
    assert fp.request_bound({"m1": 1.0}, 6, 1000) == 20
    assert fp.request_bound({"m1": 1.0}, 50, 1000) == 50
    assert fp.request_bound({"m1": 0.999, "m2": 0.001}, 6, 1000) == 1000
    with pytest.raises(ValueError, match="above 0"):
        fp.request_bound({"m1": 1.0, "m2": 0.0}, 6, 1000)


def test_a_share_too_small_for_the_bound_is_not_required() -> None:
    with farm(lambda: (200, "m1")) as url:
        got = fp.prove(url, {"m1": 0.999, "m2": 0.001}, max_requests=100)
    assert got["missing"] == []
    assert len(got["backends"]) == 6


def run_module(args: dict, capsys: pytest.CaptureFixture) -> tuple[bool, dict]:
    """The module's main() as Ansible runs it: (failed, its JSON result)."""
    with patch_module_args(args), pytest.raises(SystemExit) as done:
        fp.main()
    return done.value.code != 0, json.loads(capsys.readouterr().out)


def test_the_module_fails_naming_the_backend_that_did_not_answer(capsys: pytest.CaptureFixture) -> None:
    with farm(lambda: (200, "m1")) as url:
        failed, result = run_module({"url": url, "shares": SHARES}, capsys)
    assert failed
    assert f"through {url} in 60 requests (m2 never answered; answers {{'m1': 60}})" in result["msg"]


def test_the_module_changes_nothing_when_the_farm_balances(capsys: pytest.CaptureFixture) -> None:
    with farm(weighted_round_robin()) as url:
        failed, result = run_module({"url": url, "shares": SHARES, "requests": 3}, capsys)
    assert not failed
    assert result["changed"] is False
    assert result["backends"] == ["m1", "m2", "m1"]
    assert (
        result["msg"]
        == f"['m1', 'm2', 'm1'] answered through {url}; the weights ask for {{'m1': 0.6667, 'm2': 0.3333}}"
    )


SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("X-Backend", "inside"); self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
s.serve_forever()
"""


def test_requests_go_from_the_network_namespace_named() -> None:
    """make lab LAB=vm proves the farm from its lab client, a network namespace of the controller."""
    if shutil.which("ip") is None or subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0":
        pytest.skip("needs root and iproute2 to make a network namespace")
    netns, port = f"lbfarm-proof-{int(time.time() * 1000) % 10**8}", 18080
    subprocess.run(["ip", "netns", "add", netns], check=True)
    server = None
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        server = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        results: list = []

        def inside() -> None:  # setns moves only the calling thread
            fp.enter_netns(netns)
            results.append(fp.prove(f"http://127.0.0.1:{port}/", {"inside": 1.0}))

        thread = threading.Thread(target=inside)
        thread.start()
        thread.join(timeout=60)
        assert results
        assert results[0]["counts"] == {"inside": 6}
        assert fp.get_backend(f"http://127.0.0.1:{port}/", 2)[0] == 0, "outside the namespace nothing answers there"
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "delete", netns], check=False)


def test_https_is_verified_against_the_ca_given_and_never_without(tmp_path) -> None:
    """The proof of an https URL trusts the lab CA it is given (the dispatcher passes balancer_tls.ca),
    and a certificate from any other CA fails the request, as it would fail a browser."""
    ca, ca_key = issue("lab CA", ca=True)
    leaf, key = issue("m3", ca, ca_key, sans=["127.0.0.1"])
    (tmp_path / "farm.pem").write_text(pem(leaf) + pem(key))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "farm.pem")
    other, _ = issue("another CA", ca=True)
    with farm(weighted_round_robin(), server) as url:
        assert fp.prove(url, SHARES, get=fp.getter(pem(ca)))["missing"] == []
        status, said = fp.getter(pem(other))(url, 2)
        assert status == 0
        assert "CERTIFICATE_VERIFY_FAILED" in said
        assert fp.getter()(url, 2)[0] == 0, "the system's CAs do not know the lab CA"
