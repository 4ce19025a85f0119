"""Take docs/prometheus-drain-failover.png: requests per backend in the local lab's Prometheus while
m1 is drained, made ready, then loses its Apache and gets it back, in headless Chromium.

Needs a running lab (make lab) and Chromium (Debian: apt-get install chromium). A bounded client
on this machine sends about RATE requests a second to the farm for the whole run and counts who
answered and what failed; m1 is drained and made ready with playbooks/backend.yml, its Apache
stopped and started with systemctl in its container. The graph is Prometheus' own (its classic
page), of lbfarm's recording rule lbfarm:backend_requests:rate1m's raw series: Apache's requests per
second on each backend.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "prometheus-drain-failover.png"
RATE = 40.0  # requests a second, from two threads
# (what happens at its start, seconds it lasts)
PHASES = [("all ready", 60), ("m1 drained", 60), ("m1 ready", 45), ("Apache stopped on m1", 60), ("Apache back", 60)]
EXPR = "sum by (instance) (rate(apache_accesses_total[20s]))"


class Client:
    """Paced GETs to the farm until stopped, counted by phase and by who answered."""

    def __init__(self, url: str) -> None:
        self.url, self.phase = url, PHASES[0][0]
        self.counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(2)]

    def run(self) -> None:
        pause = len(self.threads) / RATE
        while not self.stopped.is_set():
            started, phase = time.monotonic(), self.phase
            try:
                with urllib.request.urlopen(self.url, timeout=2) as answer:
                    found = re.search(rb"MAQUINA (\w+)", answer.read())
                    who = found.group(1).decode().lower() if found else f"HTTP {answer.status}, no page"
            except (urllib.error.URLError, OSError) as error:
                who = f"failed: {getattr(error, 'code', None) or type(error).__name__}"
            self.counts[phase][who] += 1
            self.stopped.wait(max(0.0, pause - (time.monotonic() - started)))

    def __enter__(self) -> Client:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()


def run(command: list[str]) -> None:
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True, timeout=300)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--farm", default="http://172.30.56.4/", help="where the lab's farm answers")
    parser.add_argument("--prometheus", default="http://172.30.56.4:9090", help="the lab's Prometheus")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the PNG to write")
    args = parser.parse_args(argv[1:])

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("Chromium is not installed: apt-get install -y chromium, then run this again.", file=sys.stderr)
        return 1
    try:
        urllib.request.urlopen(f"{args.prometheus}/-/ready", timeout=5).close()
        urllib.request.urlopen(args.farm, timeout=5).close()
    except (urllib.error.URLError, OSError) as error:
        print(f"the lab's farm or Prometheus does not answer ({error}): run make lab first.", file=sys.stderr)
        return 1

    backend = ["ansible-playbook", "playbooks/backend.yml", "-e", "backend=m1"]
    apache = ["docker", "exec", "lbfarm-m1", "systemctl"]
    actions = {
        "m1 drained": [*backend, "-e", "state=drain"],
        "m1 ready": [*backend, "-e", "state=ready"],
        "Apache stopped on m1": [*apache, "stop", "apache2"],
        "Apache back": [*apache, "start", "apache2"],
    }
    began = time.time()
    with Client(args.farm) as client:
        try:
            for phase, seconds in PHASES:
                start = time.monotonic()
                if phase in actions:  # the requests while the change is made are counted apart
                    client.phase = f"changing to {phase}"
                    run(actions[phase])
                client.phase = phase
                print(f"{time.strftime('%H:%M:%S')} {phase}", flush=True)
                time.sleep(max(0.0, seconds - (time.monotonic() - start)))
        finally:
            run([*apache, "start", "apache2"])
            run([*backend, "-e", "state=ready"])
    for phase, counts in client.counts.items():
        print(f"  {phase:34} " + ", ".join(f"{who} {n}" for who, n in sorted(counts.items())))

    query = urllib.parse.urlencode(
        {"g0.expr": EXPR, "g0.tab": "0", "g0.range_input": f"{int(time.time() - began) + 30}s", "g0.stacked": "0"}
    )
    url = f"{args.prometheus}/classic/graph?{query}"
    try:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # Chromium refuses to run as root with its sandbox
                "--disable-gpu",
                "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
                "--hide-scrollbars",
                "--virtual-time-budget=15000",  # the page draws the graph from an API call of its own
                f"--screenshot={args.output}",
                "--window-size=1300,900",  # the graph and its legend
                url,
            ],
            check=True,
            timeout=120,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"Chromium failed ({error}); open {url} by hand to see why.", file=sys.stderr)
        return 1
    print(f"wrote {args.output} from {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
