"""HAProxy's own pages and persistence: the stats page behind basic auth, the sticky cookie."""

import csv
import io

import pytest
from farmcheck import cookie_client, count_backends, fetch


@pytest.fixture
def stats(farm) -> dict:
    return farm.endpoints["stats"]


def test_stats_asks_for_credentials_with_the_realm(stats) -> None:
    reply = fetch(stats["url"])
    assert reply.status == 401
    assert f'realm="{stats["realm"]}"' in reply.headers.get("WWW-Authenticate", "")


def test_stats_rejects_wrong_password(stats, farm) -> None:
    assert fetch(stats["url"], auth=(stats["user"], farm.stats_password() + "x")).status == 401


def test_stats_with_the_password_names_every_backend(stats, farm) -> None:
    reply = fetch(stats["url"], auth=(stats["user"], farm.stats_password()))
    assert reply.status == 200
    for backend in farm.backends:
        assert backend["name"] in reply.body


def test_stats_csv_shows_every_backend_up(stats, farm) -> None:
    reply = fetch(stats["url"] + ";csv", auth=(stats["user"], farm.stats_password()))
    assert reply.status == 200
    rows = csv.DictReader(io.StringIO(reply.body.lstrip("# ")))
    status = {row["svname"]: row["status"] for row in rows if row["pxname"] == "farm"}
    assert {b["name"]: status.get(b["name"]) for b in farm.backends} == {b["name"]: "UP" for b in farm.backends}


def test_cookie_keeps_a_client_on_one_backend(farm) -> None:
    for _ in range(3):
        seen = count_backends(farm.url, 20, cookie_client())
        assert len(seen) == 1, seen
        assert next(iter(seen)) in farm.shares, seen
