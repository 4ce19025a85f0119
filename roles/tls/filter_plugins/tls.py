"""The farm's certificate checked before any host gets it (roles/tls): filter tls_check."""

from __future__ import annotations

import datetime
import ipaddress
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

DOCUMENTATION = r"""
name: tls_check
short_description: Check the farm's certificate, its chain and its key, and describe them (and tls_san)
description:
  - Reads the PEM texts of the certificate (the server's first, then any intermediates), of an
    optional separate chain file and of the private key, and refuses, naming the file and what is
    wrong, a file that holds no certificate or key, a key that does not belong to the certificate,
    a certificate (or one of its chain) that has expired or is not yet valid, a chain out of order
    (each certificate must be issued by the next), and a certificate that does not cover one of
    the farm's names or addresses.
  - C(tls_san) writes a name or an address as an entry of subjectAltName (C(DNS:m3), C(IP:172.30.56.4)).
options:
  _input:
    description: >-
      The files as read, {certificate: {path, pem}, chain: {path, pem}, key: {path, pem}};
      chain may be absent or have an empty pem.
    type: dict
    required: true
  names:
    description: The names and addresses the certificate must cover (the farm's addresses).
    type: list
    elements: str
    required: true
  now:
    description: The time to judge validity at (ISO 8601, UTC); default now.
    type: str
"""

EXAMPLES = r"""
tls_farm: "{{ {'certificate': {'path': p, 'pem': lookup('file', p)}, 'key': {...}} | tls_check(['172.30.56.4']) }}"
"""

RETURN = r"""
_value:
  description: >-
    {pem: the server's certificate followed by its chain, key: the key's PEM, names: the names and
    addresses it covers, not_after: its expiry (ISO 8601), days_left, subject, issuer, serial (hex),
    sha256: its fingerprint}
  type: dict
"""


def _certificates(label: str, path: str, pem: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem.encode())
    except ValueError as err:
        raise AnsibleFilterError(f"tls_{label}: {path} holds no PEM certificate ({err})") from None


def _key(path: str, pem: str):
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as err:
        raise AnsibleFilterError(
            f"tls_private_key: {path} holds no unencrypted PEM private key ({err}); "
            "a key kept secret belongs in an ansible-vault encrypted file, which Ansible decrypts"
        ) from None


def _public(item) -> bytes:
    return item.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _subject(cert: x509.Certificate) -> str:
    return _name(cert.subject)


def _name(name: x509.Name) -> str:
    """A name as people read it: its common name, else the whole name."""
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else name.rfc4514_string() or "(no name)"


def _covered(cert: x509.Certificate) -> tuple[list[str], list[Any]]:
    """The DNS names and IP addresses of the subjectAltName (browsers read nothing else)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return [n.lower() for n in san.get_values_for_type(x509.DNSName)], san.get_values_for_type(x509.IPAddress)


def _covers(name: str, dns: Sequence[str], ips: Sequence[Any]) -> bool:
    try:
        return ipaddress.ip_address(name) in ips
    except ValueError:
        pass
    name = name.lower().rstrip(".")
    for pattern in dns:
        if pattern == name:
            return True
        # a wildcard stands for exactly one label, the leftmost (RFC 6125 6.4.3)
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _when(now: str | None) -> datetime.datetime:
    if not now:
        return datetime.datetime.now(datetime.UTC)
    try:
        moment = datetime.datetime.fromisoformat(now)
    except ValueError:
        raise AnsibleFilterError(f"tls_check: now={now!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _check_dates(label: str, path: str, cert: x509.Certificate, moment: datetime.datetime) -> None:
    if moment < cert.not_valid_before_utc:
        raise AnsibleFilterError(
            f"tls_{label}: {path}: the certificate of {_subject(cert)} is not valid yet: "
            f"from {cert.not_valid_before_utc.isoformat()}, it is {moment.isoformat(timespec='seconds')}"
        )
    if moment > cert.not_valid_after_utc:
        raise AnsibleFilterError(
            f"tls_{label}: {path}: the certificate of {_subject(cert)} expired on "
            f"{cert.not_valid_after_utc.isoformat()}: renew it"
        )


def _check_order(chain: list[tuple[str, str, x509.Certificate]]) -> None:
    for (_, path, cert), (label, issuer_path, issuer) in itertools.pairwise(chain):
        try:
            cert.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError) as err:
            raise AnsibleFilterError(
                f"tls_{label}: {issuer_path}: the chain is out of order: {_subject(issuer)} did not issue "
                f"{_subject(cert)} ({path}), which it follows ({type(err).__name__}); list the server's "
                "certificate first, then each issuer after the certificate it issued"
            ) from None


def tls_check(files: Mapping[str, Any], names: Sequence[str], now: str | None = None) -> dict[str, Any]:
    if not isinstance(files, Mapping) or not {"certificate", "key"} <= set(files):
        raise AnsibleFilterError(f"tls_check: expected {{certificate, key[, chain]}} of {{path, pem}}, got {files!r}")
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise AnsibleFilterError(f"tls_check: names must be a list of names and addresses, got {names!r}")
    moment = _when(now)
    chain: list[tuple[str, str, x509.Certificate]] = []
    for label in ("certificate", "chain"):
        item = files.get(label) or {}
        if label == "certificate" or item.get("pem"):
            path = str(item.get("path", label))
            chain += [(label, path, cert) for cert in _certificates(label, path, str(item.get("pem") or ""))]
    label, path, leaf = chain[0]
    key_path = str(files["key"].get("path", "key"))
    key = _key(key_path, str(files["key"].get("pem") or ""))
    if _public(key) != _public(leaf):
        raise AnsibleFilterError(
            f"tls_private_key: {key_path} is not the key of the certificate in {path} ({_subject(leaf)}): "
            "give the key the certificate was issued for"
        )
    for item in chain:
        _check_dates(*item, moment)
    _check_order(chain)
    dns, ips = _covered(leaf)
    missing = [str(n) for n in names if not _covers(str(n), dns, ips)]
    if missing:
        covered = ", ".join(dns + [str(ip) for ip in ips]) or "nothing (no subjectAltName)"
        raise AnsibleFilterError(
            f"tls_certificate: {path} does not cover {', '.join(missing)}, where the farm answers "
            f"(it covers {covered}): issue one whose subjectAltName names them, or set tls_names"
        )
    return {
        "pem": "".join(c.public_bytes(serialization.Encoding.PEM).decode() for _, _, c in chain),
        # written again as one PKCS#8 block: whatever else the file held (EC parameters, blank
        # lines) stays out of the daemons' files and of HAProxy's runtime API payload
        "key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "names": dns + [str(ip) for ip in ips],
        "not_after": leaf.not_valid_after_utc.isoformat(),
        "days_left": (leaf.not_valid_after_utc - moment).days,
        "subject": _subject(leaf),
        "issuer": _name(leaf.issuer),
        "serial": format(leaf.serial_number, "x"),
        "sha256": leaf.fingerprint(hashes.SHA256()).hex(),
    }


def tls_san(name: str) -> str:
    """A name or address as an entry of subjectAltName: IP:172.30.56.4, DNS:m3."""
    try:
        return f"IP:{ipaddress.ip_address(str(name))}"
    except ValueError:
        if not str(name).strip() or any(c.isspace() or c in ",:/" for c in str(name)):
            raise AnsibleFilterError(f"tls_names: {name!r} is neither an address nor a host name") from None
        return f"DNS:{name}"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"tls_check": tls_check, "tls_san": tls_san}
