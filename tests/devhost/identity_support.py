"""Identity-based storage for tests: Azurite over HTTPS with `--oauth basic` and an account
whose key nobody but Azurite holds, a throwaway self-signed certificate, and bearer tokens of
the shape Azurite's basic OAuth accepts (issuer, audience, lifetime; the signature is not
checked, so an HS256 token signed with a random key will do)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devstack.processes import LOOPBACK, Azurite, AzuriteTls, start_azurite

STORAGE_AUDIENCE = "https://storage.azure.com"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ISSUER = f"https://sts.windows.net/{TENANT}/"
IDENTITY_ACCOUNT = "rpcopyidentity"


@dataclass(frozen=True)
class Certificate:
    cert: Path  # also the CA bundle clients trust: the certificate is its own issuer
    key: Path


def self_signed_certificate(directory: Path) -> Certificate:
    """A one-day certificate for 127.0.0.1 and localhost (EC P-256: quick to make)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rpcopy test Azurite")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(directory / "azurite-cert.pem", directory / "azurite-key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def storage_token(
    *, audience: str = STORAGE_AUDIENCE, issuer: str = ISSUER, lifetime: float = 3600.0
) -> str:
    """A JWT as Entra ID would issue for Azure Storage to a managed identity."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer,
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + int(lifetime),
        "oid": "00000000-0000-0000-0000-0000000000aa",
        "tid": TENANT,
        "sub": "rpcopy-test-identity",
    }
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signature = hmac.new(secrets.token_bytes(32), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64url(signature.digest())}"


class StaticCredential:
    """A sync TokenCredential for the tests' own clients (the app has its own)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


@dataclass
class IdentityAzurite:
    """Azurite that only a bearer token gets into: HTTPS, `--oauth basic`, and a custom
    account (devstoreaccount1 and its well-known key are disabled) whose key is random and
    never leaves this object."""

    azurite: Azurite
    certificate: Certificate

    @property
    def ca_bundle(self) -> str:
        return str(self.certificate.cert)

    def service_uris(self) -> dict[str, str]:
        return {
            "queueServiceUri": self.azurite.queue_service_uri,
            "tableServiceUri": self.azurite.table_service_uri,
            "blobServiceUri": self.azurite.blob_service_uri,
        }

    def stop(self) -> None:
        self.azurite.stop()


def start_identity_azurite(workdir: Path) -> IdentityAzurite:
    certificate = self_signed_certificate(workdir / "tls")
    key = base64.b64encode(secrets.token_bytes(64)).decode("ascii")
    tls = AzuriteTls(
        certificate.cert, certificate.key, oauth=True, accounts=f"{IDENTITY_ACCOUNT}:{key}"
    )
    return IdentityAzurite(start_azurite(workdir, tls=tls), certificate)


def identity_connection(
    name: str, azurite: IdentityAzurite, token: str, **extra: str
) -> dict[str, str]:
    """App settings for connection `name` as deployed (service URIs and the managed
    identity), plus the local stand-ins for the identity: a static token and the CA."""
    settings = {f"{name}__{k}": v for k, v in azurite.service_uris().items()}
    settings.update(
        {
            f"{name}__credential": "managedidentity",
            "STORAGE_STATIC_TOKEN": token,
            "STORAGE_CA_BUNDLE": azurite.ca_bundle,
        }
    )
    settings.update(extra)
    return settings
