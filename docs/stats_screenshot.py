"""Take docs/haproxy-stats.png: the local lab's HAProxy stats page, in headless Chromium.

Needs a running lab with HAProxy (make lab) and Chromium (Debian: apt-get install chromium).
The page is over TLS, verified against the lab CA (.lab/tls/ca.crt).
The password is read from .lab/haproxy_stats_password and goes into an Authorization header
added by a proxy on 127.0.0.1 that lives as long as the screenshot: Chromium gets no credentials
on its command line (where `ps` would show them) and the password is never printed or written.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import shutil
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD_FILE = ROOT / ".lab" / "haproxy_stats_password"
CA_FILE = ROOT / ".lab" / "tls" / "ca.crt"
OUTPUT = ROOT / "docs" / "haproxy-stats.png"
# Requests sent through the farm first, so that the page shows sessions and bytes, not zeros.
WARM_UP_REQUESTS = 20


def fetch(url: str, authorization: str | None = None) -> tuple[int, str, bytes]:
    """Status, content type and body of a GET; HTTP errors are answers too."""
    request = urllib.request.Request(url, headers={"Authorization": authorization} if authorization else {})
    try:
        context = ssl.create_default_context(cafile=CA_FILE) if url.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def authorizing_proxy(origin: str, authorization: str) -> http.server.ThreadingHTTPServer:
    """A server on 127.0.0.1 (free port) that forwards each GET to origin with the header added."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = fetch(origin + self.path, authorization)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per request Chromium makes would bury the result

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="https://172.30.56.4:9999/stats", help="the lab's stats page")
    parser.add_argument("--user", default="admin", help="the stats user")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the PNG to write")
    args = parser.parse_args(argv[1:])

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("Chromium is not installed: apt-get install -y chromium, then run this again.", file=sys.stderr)
        return 1
    if not PASSWORD_FILE.is_file():
        print(f"{PASSWORD_FILE.relative_to(ROOT)} is missing: run make lab (balancer haproxy) first.", file=sys.stderr)
        return 1
    password = PASSWORD_FILE.read_text(encoding="utf-8").strip()
    authorization = "Basic " + base64.b64encode(f"{args.user}:{password}".encode()).decode()

    url = urllib.parse.urlsplit(args.url)
    status, _, _ = fetch(args.url, authorization)
    if status != 200:
        print(
            f"{args.url} answered {status}, not 200: is the lab running with HAProxy (make lab BALANCER=haproxy)?",
            file=sys.stderr,
        )
        return 1
    for _ in range(WARM_UP_REQUESTS):
        fetch(f"{url.scheme}://{url.hostname}/")

    proxy = authorizing_proxy(f"{url.scheme}://{url.netloc}", authorization)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    local = urllib.parse.urlunsplit(("http", f"127.0.0.1:{proxy.server_address[1]}", url.path, url.query, ""))
    try:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # Chromium refuses to run as root with its sandbox
                "--disable-gpu",
                "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
                "--hide-scrollbars",
                f"--screenshot={args.output}",
                "--window-size=1400,520",  # the page of a two-backend farm, without the blank below
                local,
            ],
            check=True,
            timeout=120,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"Chromium failed ({error}); run it by hand on {args.url} to see why.", file=sys.stderr)
        return 1
    finally:
        proxy.shutdown()
    shown = args.output.resolve().relative_to(ROOT) if args.output.resolve().is_relative_to(ROOT) else args.output
    print(f"wrote {shown} ({args.output.stat().st_size // 1024} KiB) from {args.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
