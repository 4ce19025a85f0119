"""HTTPS at the balancer, as a browser and a TLS scanner see it: the chain to the lab CA for every
name and address, TLS 1.2 and 1.3 only, HTTP/2 by ALPN, Mozilla's intermediate profile (sslyze),
the share over HTTPS, what the backends are told, and the redirect and HSTS when turned on.

gobetween ends TLS at L4 (it forwards the bytes, reads no HTTP): no ALPN, nothing told to the
backends, no redirect or HSTS; and Go's crypto/tls, which it does not let choose curves, also
offers P-521, outside Mozilla's profile. IPVS passes TLS through to the backends' Apache (mod_ssl,
HTTP/1.1 by ALPN), which the same checks judge.

In the VM farm, whose lab segment this machine has no route to, the module runs in the lab client's
network namespace (farmcheck.in_netns): its sockets and sslyze's are the lab client's."""

from __future__ import annotations

import contextlib
import ssl
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract import CONTRACT
from cryptography import x509
from farmcheck import REPO, SHARE_TOLERANCE, count_backends, fetch, handshake, in_netns, no_redirect, served_certificate

# sslyze in a venv of its own (make deps, requirements-sslyze.txt)
SSLYZE = REPO / ".venv" / "sslyze" / "bin" / "sslyze"
# balancers that end TLS without reading HTTP (roles/gobetween_lb: protocol "tls")
GO_TLS = {"gobetween"}
# balancers that read no HTTP of their own over TLS: those, and those that pass TLS through (IPVS)
L4 = GO_TLS | {name for name, adapter in CONTRACT.items() if adapter["tls_passthrough"]}


@pytest.fixture(scope="module")
def https(farm) -> Iterator[urllib.parse.SplitResult]:
    url = farm.endpoints.get("https_url")
    if not url:
        pytest.skip(f"{farm.balancer} does not serve HTTPS in lbfarm")
    farm.require_running_balancer()
    with in_netns(farm.lab_client["netns"]) if farm.lab_client else contextlib.nullcontext():
        yield urllib.parse.urlsplit(url)


def test_the_chain_verifies_to_the_lab_ca_for_every_name_and_address(https, farm) -> None:
    served = x509.load_der_x509_certificate(served_certificate(https.geturl()))
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    covered = [str(n) for n in names.get_values_for_type(x509.DNSName) + names.get_values_for_type(x509.IPAddress)]
    assert https.hostname in covered
    assert farm.balancer_host in covered
    context = ssl.create_default_context(cafile=farm.ca_file)  # hostname and chain checked
    for name in covered:
        with handshake(https.geturl(), context, name) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_a_client_without_the_lab_ca_refuses_the_certificate(https) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(https.geturl(), ssl.create_default_context()).close()  # the system's CAs only


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_1_0_and_1_1_are_refused(https, farm, version) -> None:
    context = ssl.create_default_context(cafile=farm.ca_file)
    context.set_ciphers("ALL:@SECLEVEL=0")  # this client would offer them; the balancer must not take them
    context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    with pytest.raises(ssl.SSLError) as refused:
        handshake(https.geturl(), context).close()
    # the balancer's own alert, not this client giving up
    assert "TLSV1_ALERT_PROTOCOL_VERSION" in str(refused.value), refused.value


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_1_3_are_accepted(https, farm, version) -> None:
    context = ssl.create_default_context(cafile=farm.ca_file)
    context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    with handshake(https.geturl(), context) as tls:
        assert tls.version() == version.replace("_", ".")


def test_alpn_gives_http2_and_http_1_1(https, farm) -> None:
    context = ssl.create_default_context(cafile=farm.ca_file)
    if farm.balancer in GO_TLS:
        # gobetween sets no NextProtos: Go's crypto/tls then answers no ALPN, and the client speaks HTTP/1.1
        context.set_alpn_protocols(["h2", "http/1.1"])
        with handshake(https.geturl(), context) as tls:
            assert tls.selected_alpn_protocol() is None
        return
    if not CONTRACT[farm.balancer]["http2"]:
        # passed through to Apache, whose mod_ssl answers HTTP/1.1 (lbfarm does not load mod_http2)
        context.set_alpn_protocols(["h2", "http/1.1"])
        with handshake(https.geturl(), context) as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"
        return
    context.set_alpn_protocols(["h2", "http/1.1"])
    with handshake(https.geturl(), context) as tls:
        assert tls.selected_alpn_protocol() == "h2"
    context.set_alpn_protocols(["http/1.1"])
    with handshake(https.geturl(), context) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"


def test_sslyze_finds_mozilla_intermediate_compliance(https, farm) -> None:
    """sslyze (PyPI) scans the listener and checks it against Mozilla's intermediate profile, the
    certificate's path validated against the lab CA."""
    scan = subprocess.run(
        [
            *[str(SSLYZE), f"{https.hostname}:{https.port}"],
            *["--mozilla_config=intermediate", f"--certinfo_ca_file={farm.ca_file}"],
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = scan.stdout + scan.stderr
    if farm.balancer in GO_TLS:
        # gobetween has no curves option: Go's defaults add P-521 to the profile's X25519, P-256 and P-384,
        # the one thing sslyze should find outside the profile
        assert f"{https.hostname}:{https.port}: FAILED - Not compliant." in said, said[-3000:]
        issues = [line.strip() for line in said.splitlines() if line.strip().startswith("* ")]
        assert len(issues) == 1, issues
        assert issues[0].startswith("* tls_curves: TLS curves {'secp521r1'} are supported"), issues
        return
    assert f"{https.hostname}:{https.port}: OK - Compliant." in said, said[-3000:]
    assert scan.returncode == 0, said[-3000:]


def test_share_follows_weights_over_https(https, farm) -> None:
    seen = count_backends(farm.endpoints["https_url"], 60)
    assert set(seen) == set(farm.shares), seen
    for backend, share in farm.shares.items():
        assert abs(seen[backend] / 60 - share) <= SHARE_TOLERANCE + 0.1, seen


def test_backends_are_told_how_the_client_came(https, farm) -> None:
    """X-Forwarded-Proto is set by the balancer, whatever the client sent (Apache echoes it)."""
    if farm.balancer in L4:
        pytest.skip(f"{farm.balancer} forwards the bytes (L4): it cannot tell the backends how the client came")
    assert fetch(farm.endpoints["https_url"]).headers.get("X-Forwarded-Proto") == "https"
    forged = {"X-Forwarded-Proto": "https"}
    if not farm.setting("https_redirect"):
        assert fetch(farm.url, headers=forged).headers.get_all("X-Forwarded-Proto") == ["http"]


def test_plain_http_is_redirected_to_https_only_when_turned_on(https, farm) -> None:
    if farm.balancer in L4:
        pytest.skip(f"{farm.balancer} sends no HTTP of its own (L4): no redirect")
    reply = fetch(farm.url, no_redirect())
    if farm.setting("https_redirect"):
        assert reply.status == 301, reply
        assert reply.headers.get("Location", "").startswith(f"https://{https.hostname}"), reply.headers
    else:
        assert reply.status == 200, reply


def test_hsts_is_sent_over_https_only_when_turned_on(https, farm) -> None:
    if farm.balancer in L4:
        pytest.skip(f"{farm.balancer} adds no header (L4): no HSTS")
    hsts = int(farm.setting("hsts") or 0)
    over_tls = fetch(farm.endpoints["https_url"]).headers.get("Strict-Transport-Security")
    assert over_tls == (f"max-age={hsts}" if hsts else None)
    if not farm.setting("https_redirect"):
        assert fetch(farm.url).headers.get("Strict-Transport-Security") is None


def test_the_lab_ca_is_beside_its_keys_readable_by_its_owner_only(https, farm) -> None:
    assert Path(farm.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
    for key in ("ca.key", "farm.key"):
        assert (farm.ca_file.parent / key).stat().st_mode & 0o777 == 0o600, key
