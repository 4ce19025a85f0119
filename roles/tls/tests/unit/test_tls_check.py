"""tls_check (roles/tls/filter_plugins/tls.py) on real certificates and keys made here: what it
accepts, and each bad input refused with the file named."""

from __future__ import annotations

import datetime

import modules
import pytest
from ansible.errors import AnsibleFilterError
from pki import DAY, issue, pem

tls = modules.load("roles/tls/filter_plugins/tls.py")

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC)
FARM = ["172.30.56.4", "m3"]


@pytest.fixture(scope="module")
def pki():
    root, root_key = issue("lbfarm lab CA", ca=True, start=NOW - DAY, end=NOW + 3650 * DAY)
    inter, inter_key = issue("lbfarm intermediate", root, root_key, ca=True, start=NOW - DAY, end=NOW + 1000 * DAY)
    leaf, leaf_key = issue(
        "m3", inter, inter_key, sans=["m3", "*.lab.example", "172.30.56.4"], start=NOW - DAY, end=NOW + 90 * DAY
    )
    return {"root": root, "inter": inter, "leaf": leaf, "leaf_key": leaf_key, "inter_key": inter_key}


def files(cert: str, key: str, chain: str = "") -> dict:
    return {
        "certificate": {"path": "/own/farm.crt", "pem": cert},
        "chain": {"path": "/own/chain.crt", "pem": chain},
        "key": {"path": "/own/farm.key", "pem": key},
    }


def check(given: dict, names=FARM):
    return tls.tls_check(given, names, now=NOW.isoformat())


def refused(given: dict, names=FARM) -> str:
    with pytest.raises(AnsibleFilterError) as err:
        check(given, names)
    return str(err.value)


def test_a_good_certificate_with_its_chain_is_described(pki) -> None:
    info = check(files(pem(pki["leaf"]), pem(pki["leaf_key"]), pem(pki["inter"])), [*FARM, "www.lab.example"])
    assert info["subject"] == "m3"
    assert info["issuer"] == "lbfarm intermediate"
    assert info["names"] == ["m3", "*.lab.example", "172.30.56.4"]
    assert info["days_left"] == 90
    assert info["not_after"].startswith((NOW + 90 * DAY).date().isoformat())
    assert info["pem"] == pem(pki["leaf"]) + pem(pki["inter"])
    assert info["key"] == pem(pki["leaf_key"])


def test_the_chain_may_follow_the_certificate_in_one_file(pki) -> None:
    info = check(files(pem(pki["leaf"]) + pem(pki["inter"]), pem(pki["leaf_key"])))
    assert info["pem"] == pem(pki["leaf"]) + pem(pki["inter"])


def test_a_key_of_another_certificate_is_refused(pki) -> None:
    message = refused(files(pem(pki["leaf"]), pem(pki["inter_key"])))
    assert "/own/farm.key is not the key of the certificate in /own/farm.crt (m3)" in message


def test_an_expired_certificate_is_refused(pki) -> None:
    old, key = issue("m3", pki["inter"], pki["inter_key"], sans=FARM, start=NOW - 100 * DAY, end=NOW - DAY)
    message = refused(files(pem(old), pem(key)))
    assert "tls_certificate: /own/farm.crt: the certificate of m3 expired on 2026-12-06" in message


def test_a_certificate_not_yet_valid_is_refused(pki) -> None:
    early, key = issue("m3", pki["inter"], pki["inter_key"], sans=FARM, start=NOW + DAY, end=NOW + 90 * DAY)
    assert "/own/farm.crt: the certificate of m3 is not valid yet: from 2026-12-08" in refused(
        files(pem(early), pem(key))
    )


def test_an_expired_intermediate_is_refused(pki) -> None:
    old, _ = issue("lbfarm intermediate", pki["root"], pki["inter_key"], ca=True, start=NOW - 9 * DAY, end=NOW - DAY)
    message = refused(files(pem(pki["leaf"]), pem(pki["leaf_key"]), pem(old)))
    assert "tls_chain: /own/chain.crt: the certificate of lbfarm intermediate expired" in message


def test_a_certificate_that_does_not_cover_the_farm_is_refused(pki) -> None:
    message = refused(files(pem(pki["leaf"]), pem(pki["leaf_key"])), [*FARM, "172.30.56.10", "m4"])
    assert "/own/farm.crt does not cover 172.30.56.10, m4" in message
    assert "it covers m3, *.lab.example, 172.30.56.4" in message


def test_a_wildcard_covers_one_label_only(pki) -> None:
    assert check(files(pem(pki["leaf"]), pem(pki["leaf_key"])), ["www.lab.example"])["subject"] == "m3"
    assert "does not cover a.b.lab.example" in refused(
        files(pem(pki["leaf"]), pem(pki["leaf_key"])), ["a.b.lab.example"]
    )


def test_a_chain_out_of_order_is_refused(pki) -> None:
    given = files(pem(pki["leaf"]) + pem(pki["root"]) + pem(pki["inter"]), pem(pki["leaf_key"]))
    message = refused(given)
    assert "tls_certificate: /own/farm.crt: the chain is out of order: lbfarm lab CA did not issue m3" in message


def test_a_file_without_a_certificate_is_refused(pki) -> None:
    assert "tls_certificate: /own/farm.crt holds no PEM certificate" in refused(
        files(pem(pki["leaf_key"]), pem(pki["leaf_key"]))
    )
    assert "tls_certificate: /own/farm.crt holds no PEM certificate" in refused(files("", pem(pki["leaf_key"])))


def test_a_file_without_a_key_is_refused(pki) -> None:
    assert "tls_private_key: /own/farm.key holds no unencrypted PEM private key" in refused(
        files(pem(pki["leaf"]), pem(pki["leaf"]))
    )


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="expected"):
        tls.tls_check({"certificate": {}}, FARM)
    with pytest.raises(AnsibleFilterError, match="names must be a list"):
        tls.tls_check(files("", ""), "m3")
    with pytest.raises(AnsibleFilterError, match="not an ISO 8601 time"):
        tls.tls_check(files("", ""), FARM, now="yesterday")


def test_names_and_addresses_become_subject_alt_names() -> None:
    assert [tls.tls_san(n) for n in ["m3", "172.30.56.4", "fd00::4"]] == ["DNS:m3", "IP:172.30.56.4", "IP:fd00::4"]
    with pytest.raises(AnsibleFilterError, match="neither an address nor a host name"):
        tls.tls_san("a b")
