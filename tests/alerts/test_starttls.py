"""Email over a real STARTTLS relay: the upgrade, the certificate check, then the login."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from timberyard.alerts import MemoryChannels, SmtpSettings

from .conftest import HOST, Authenticator, MailHandler, add_channel, entry, free_port, settings

ORG = "org1"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "timberyard test relay")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_relay(tmp_path: Path) -> Iterator[tuple[MailHandler, int, Path]]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = MailHandler()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, tls_context=context, require_starttls=True,
                            authenticator=Authenticator("alerts", "s3cret"), auth_require_tls=True)
    controller.start()
    try:
        yield handler, port, cert
    finally:
        controller.stop()


async def test_starttls_then_login_then_delivery(
    tls_relay: tuple[MailHandler, int, Path], make_dispatcher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port, cert = tls_relay
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test relay's own certificate
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "email", "to": ["ops@example.com"]}, "mail")
    smtp = SmtpSettings(host=HOST, port=port, starttls=True, username="alerts", password="s3cret",
                        sender="timberyard@example.com", timeout=5.0)
    dispatcher = await make_dispatcher(channels, settings=settings(smtp=smtp))
    dispatcher.submit(ORG, [entry(message="disk full on db-1")])
    assert await dispatcher.wait_idle(10)
    [mail] = await handler.wait_for(1)
    assert "disk full on db-1" in mail.get_body().get_content()
    [delivery] = await dispatcher.log.recent("mail")
    assert delivery.status == "delivered"


async def test_an_untrusted_certificate_is_refused(
    tls_relay: tuple[MailHandler, int, Path], make_dispatcher: Any
) -> None:
    handler, port, _ = tls_relay
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "email", "to": ["ops@example.com"]}, "mail")
    smtp = SmtpSettings(host=HOST, port=port, starttls=True, username="alerts", password="s3cret",
                        sender="timberyard@example.com", timeout=5.0)
    dispatcher = await make_dispatcher(channels, settings=settings(smtp=smtp))
    dispatcher.submit(ORG, [entry()])
    assert await dispatcher.wait_idle(10)
    log = await dispatcher.log.recent("mail")
    assert log and log[0].status in ("failed", "retry") and "certificate" in (log[0].error or "").lower()
    assert handler.messages == []
