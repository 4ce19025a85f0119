"""A bounded HTTP load client that times an outage: which requests failed, when, and for how long.

Threads send GETs to one URL for a fixed time, at a fixed rate (and never more than a fixed
count), each with its own timeout, and record when every request started and ended and whether it got a 200. From that
record: the failed requests, the outage window (start of the first failure to the end of the last),
and the longest time without any successful reply (requests that hung but came back in the end
count there, not as failures).

    with Load("http://172.30.57.10/", seconds=20) as load:
        ...  # break something, wait
    print(load.result.summary())

Run alone (python tests/loadcheck.py URL SECONDS [--keep-alive] [--json]) it prints the summary
at the end of SECONDS, or at once on SIGTERM,
for measuring by hand in a lab: only ever against the lab's own addresses. With --json it prints
the start time (time.time()) and every request's outcome instead, for a test that runs the load
where it cannot itself, e.g. in a lab client's network namespace (LoadResult.from_json).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import http.client
import itertools
import json
import signal
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

# Hard ceilings whatever the caller asks: the client never turns into an unbounded flood.
MAX_SECONDS = 300.0
MAX_REQUESTS = 2_000_000
MAX_WORKERS = 32
MAX_RATE = 5000.0  # requests per second, all workers together


@dataclass(frozen=True)
class Outcome:
    start: float  # seconds since the load began
    end: float
    ok: bool
    error: str = ""


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    duration: float = 0.0
    # marks the caller set while the load ran (name -> seconds since the load began)
    marks: dict[str, float] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return sorted((o for o in self.outcomes if not o.ok), key=lambda o: o.start)

    def failures_between(self, start: float, end: float = float("inf")) -> list[Outcome]:
        """Failed requests that started in [start, end)."""
        return [o for o in self.failures if start <= o.start < end]

    def window(self, start: float = 0.0, end: float = float("inf")) -> tuple[float, float] | None:
        """(first failure's start, last failure's end) among requests started in [start, end)."""
        failed = self.failures_between(start, end)
        if not failed:
            return None
        return failed[0].start, max(o.end for o in failed)

    def window_seconds(self, start: float = 0.0, end: float = float("inf")) -> float:
        span = self.window(start, end)
        return 0.0 if span is None else span[1] - span[0]

    def succeeded_after(self, moment: float) -> int:
        """Successful requests that started after moment."""
        return sum(1 for o in self.outcomes if o.ok and o.start > moment)

    def longest_silence(self, start: float = 0.0, end: float = float("inf")) -> float:
        """The longest time in [start, end) in which no request got its 200 back."""
        ends = sorted(o.end for o in self.outcomes if o.ok and start <= o.end < end)
        points = [start, *ends, min(end, self.duration)]
        return max((b - a for a, b in itertools.pairwise(points)), default=0.0)

    def to_json(self, started: float) -> str:
        """The record, with the wall-clock time the load began (time.time()) to line it up with others."""
        rows = [[o.start, o.end, o.ok, o.error] for o in self.outcomes]
        return json.dumps({"started": started, "duration": self.duration, "outcomes": rows})

    @classmethod
    def from_json(cls, text: str) -> tuple[LoadResult, float]:
        """The record printed by to_json, and the wall-clock time the load began."""
        data = json.loads(text)
        outcomes = [Outcome(start, end, ok, error) for start, end, ok, error in data["outcomes"]]
        return cls(outcomes=outcomes, duration=data["duration"]), data["started"]

    def errors(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.failures:
            counts[o.error] = counts.get(o.error, 0) + 1
        return counts

    def summary(self, start: float = 0.0, end: float = float("inf")) -> str:
        span = self.window(start, end)
        failed = self.failures_between(start, end)
        shown = f"{span[0]:.2f}-{span[1]:.2f} s ({span[1] - span[0]:.2f} s)" if span else "none"
        return (
            f"{self.requests} requests in {self.duration:.1f} s, {len(failed)} failed"
            f" (window {shown}); longest time without a reply {self.longest_silence(start, end):.2f} s;"
            f" errors {self.errors()}"
        )


def _describe(err: Exception) -> str:
    """A short, countable name for a failure: the exception, and the errno where it says more."""
    if isinstance(err, http.client.HTTPException):
        return str(err) or type(err).__name__
    code = errno.errorcode.get(getattr(err, "errno", None) or 0)
    return f"{type(err).__name__} {code}" if code and type(err) is OSError else type(err).__name__


def _close_without_time_wait(connection: http.client.HTTPConnection) -> None:
    """Close with a reset: a new connection per request would otherwise leave one TIME_WAIT socket
    each on this machine, and some 28 000 of them to the one address exhaust the local ports
    (EADDRNOTAVAIL) within a few runs."""
    if connection.sock is not None:
        with contextlib.suppress(OSError):  # already reset by the other side
            connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def _one(connection: http.client.HTTPConnection, path: str) -> None:
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise http.client.HTTPException(f"HTTP {response.status}")


class Load:
    """Load a URL from background threads until stop() (or the time or count bound)."""

    def __init__(
        self,
        url: str,
        seconds: float,
        workers: int = 4,
        timeout: float = 2.0,
        keep_alive: bool = False,
        max_requests: int = 200_000,
        rate: float = 400.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        if parsed.scheme == "https" and tls is None:
            raise ValueError(f"{url!r}: give the TLS context that verifies its certificate (tls=)")
        self.host, self.path = parsed.hostname, parsed.path or "/"
        self.port = parsed.port or (443 if tls else 80)
        self.tls = tls if parsed.scheme == "https" else None
        self.seconds = min(float(seconds), MAX_SECONDS)
        self.workers = max(1, min(int(workers), MAX_WORKERS))
        self.timeout = timeout
        self.keep_alive = keep_alive
        self.max_requests = min(int(max_requests), MAX_REQUESTS)
        # each worker waits this long between the starts of two requests
        self.pace = self.workers / max(1.0, min(float(rate), MAX_RATE))
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._t0 = 0.0

    def now(self) -> float:
        """Seconds since the load began."""
        return time.monotonic() - self._t0

    def mark(self, name: str) -> float:
        """Note when something happened (e.g. "balancer stopped"), for the figures."""
        moment = self.now()
        self.result.marks[name] = moment
        return moment

    def _record(self, outcome: Outcome) -> bool:
        with self._lock:
            self.result.outcomes.append(outcome)
            return len(self.result.outcomes) < self.max_requests

    def _work(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self._stop.is_set() and self.now() < self.seconds:
            if connection is None:
                connection = (
                    http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.tls)
                    if self.tls
                    else http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                )
            start = self.now()
            error = ""
            try:
                _one(connection, self.path)
            except (OSError, http.client.HTTPException) as err:
                error = _describe(err)
            if error or not self.keep_alive:
                _close_without_time_wait(connection)
                connection = None
            if not self._record(Outcome(start, self.now(), not error, error)):
                self._stop.set()
            # paced: the shared CPU serves the farm too, and a refused connection returns at once
            time.sleep(max(0.0, start + self.pace - self.now()))
        if connection is not None:
            connection.close()

    def start(self) -> Load:
        self._t0 = time.monotonic()
        for _ in range(self.workers):
            thread = threading.Thread(target=self._work, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def wait(self) -> LoadResult:
        """Let the load run to its time bound, then return the figures."""
        for thread in self._threads:
            thread.join(self.seconds + self.timeout + 5)
        self.result.duration = self.now()
        return self.result

    def stop(self) -> LoadResult:
        self._stop.set()
        return self.wait()

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is not None:  # the body failed: nothing waits for the figures
            self._stop.set()
        self.wait()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--keep-alive", action="store_true")
    parser.add_argument("--rate", type=float, default=400.0, help="requests per second, all workers together")
    parser.add_argument("--json", action="store_true", help="print every outcome as JSON (LoadResult.from_json)")
    args = parser.parse_args()
    started = time.time()
    # SIGTERM (or SIGINT): stop now and report what ran, for a caller that knows when it has seen enough
    signal.signal(signal.SIGTERM, _interrupt)
    load = Load(args.url, args.seconds, args.workers, args.timeout, args.keep_alive, rate=args.rate).start()
    try:
        result = load.wait()
    except KeyboardInterrupt:
        result = load.stop()
    if args.json:
        print(result.to_json(started))
        return
    print(result.summary())
    for o in result.failures[:20]:
        print(f"  failed {o.start:7.2f}-{o.end:7.2f} s {o.error}")


if __name__ == "__main__":
    main()
