"""One's own certificate, chain and key (an SSH lab's, issued by a private CA) served by the running
farm (molecule/default, on nginx; the refusals of bad ones are in test_errors.py on HAProxy): the
health gate and the proof verify it against the CA the user names, a browser that trusts that CA
gets the chain, and the lab CA's certificate comes back when the variables go."""

from __future__ import annotations

import ssl
import urllib.parse

import pytest
from cryptography import x509
from farmcheck import fetch, handshake, served_certificate
from pki import issue, pem


def test_ones_own_certificate_is_served_then_the_lab_cas_again(farm, playbook, tmp_path) -> None:
    https = farm.endpoints.get("https_url")
    if farm.balancer != "nginx" or not https:
        pytest.skip("served once, on nginx with HTTPS (molecule/default); test_errors.py refuses bad ones on HAProxy")
    address = urllib.parse.urlsplit(https).hostname
    ca, ca_key = issue("own CA", ca=True)
    inter, inter_key = issue("own intermediate", ca, ca_key, ca=True)
    leaf, leaf_key = issue("farm", inter, inter_key, sans=[address, farm.balancer_host])
    for name, item in {"ca.crt": ca, "inter.crt": inter, "farm.crt": leaf, "farm.key": leaf_key}.items():
        (tmp_path / name).write_text(pem(item))
    own = {
        "tls_certificate": tmp_path / "farm.crt",
        "tls_chain": tmp_path / "inter.crt",
        "tls_private_key": tmp_path / "farm.key",
        "tls_ca_certificate": tmp_path / "ca.crt",
    }
    try:
        playbook("playbooks/balancer.yml", *[a for k, v in own.items() for a in ("-e", f"{k}={v}")])
        # the chain the farm sends verifies to the user's CA alone (name and chain), and not to the lab CA
        users = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        served = x509.load_der_x509_certificate(served_certificate(https, users))
        assert served.serial_number == leaf.serial_number
        with pytest.raises(ssl.SSLCertVerificationError):
            handshake(https, ssl.create_default_context(cafile=str(farm.ca_file))).close()
    finally:
        playbook("playbooks/balancer.yml")
    back = x509.load_der_x509_certificate(served_certificate(https))
    lab_ca = x509.load_pem_x509_certificate(farm.ca_file.read_bytes())
    assert back.issuer == lab_ca.subject
    assert fetch(https).status == 200  # verified against the lab CA, as every request of the tests
