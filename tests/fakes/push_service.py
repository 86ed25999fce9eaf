"""A push service on 127.0.0.1 that does what a browser vendor's would: verifies the VAPID JWT
against the key in the Authorization header (and, when told, against the key the browser
subscribed with), and decrypts the aes128gcm body with the subscription's private key and auth
secret (http_ece), proving the encryption is real. `with FakePushService().running():`."""

import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .server import serve_in_thread


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_keys() -> tuple[str, str]:
    """(private, public) as the settings take them: raw 32-byte scalar, uncompressed 65-byte point."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return b64url(private), b64url(public)


@dataclass
class Browser:
    """One browser's push subscription, with the secrets only the browser holds."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str | None = None  # the VAPID public key it subscribed with, if pinned

    @property
    def id(self) -> str:
        return self.endpoint.rsplit("/", 1)[1]

    @property
    def subscription(self) -> dict:
        point = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class FakePushService:
    base_url: str = ""
    browsers: dict[str, Browser] = field(default_factory=dict)
    delivered: list[dict] = field(
        default_factory=list
    )  # {"id", "payload", "headers", "claims", "vapid_public"}
    refused: list[dict] = field(default_factory=list)  # {"id", "status", "reason"}
    gone: set[str] = field(default_factory=set)  # browser ids answered 410
    failures: list[int] = field(default_factory=list)  # the next answers: 429, 500, 503 ...
    retry_after: str = "30"
    requests: int = 0

    def new_browser(self, application_server_key: str | None = None) -> Browser:
        """A browser subscribing: a fresh P-256 key pair and 16-byte auth secret it keeps to decrypt."""
        browser_id = uuid.uuid4().hex
        browser = Browser(
            f"{self.base_url}/push/{browser_id}",
            ec.generate_private_key(ec.SECP256R1()),
            os.urandom(16),
            application_server_key,
        )
        self.browsers[browser_id] = browser
        return browser

    async def push(self, request: Request) -> Response:
        self.requests += 1
        browser_id = request.path_params["id"]
        body = await request.body()
        try:
            if self.failures:
                status = self.failures.pop(0)
                raise Refused(status, "busy")
            if browser_id in self.gone or browser_id not in self.browsers:
                raise Refused(410, "push subscription has unsubscribed or expired")
            browser = self.browsers[browser_id]
            claims, key = self._verify_vapid(request.headers.get("authorization", ""), browser)
            if (
                request.headers.get("content-encoding") != "aes128gcm"
                or "ttl" not in request.headers
            ):
                raise Refused(400, "Content-Encoding aes128gcm and TTL are required")
            if len(body) > 4096:
                raise Refused(413, "payload too large")
            try:
                plain = http_ece.decrypt(
                    body,
                    private_key=browser.private_key,
                    auth_secret=browser.auth,
                    version="aes128gcm",
                )
            except Exception as exc:
                raise Refused(400, f"cannot decrypt: {exc}") from None
        except Refused as refusal:
            self.refused.append(
                {"id": browser_id, "status": refusal.status, "reason": refusal.reason}
            )
            headers = {"Retry-After": self.retry_after} if refusal.status == 429 else {}
            return JSONResponse(
                {"code": refusal.status, "message": refusal.reason}, refusal.status, headers=headers
            )
        self.delivered.append(
            {
                "id": browser_id,
                "payload": json.loads(plain),
                "headers": dict(request.headers),
                "claims": claims,
                "vapid_public": key,
            }
        )
        return Response(
            status_code=201, headers={"Location": f"{self.base_url}/messages/{uuid.uuid4().hex}"}
        )

    def _verify_vapid(self, authorization: str, browser: Browser) -> tuple[dict, str]:
        scheme, _, params = authorization.partition(" ")
        try:
            parts = dict(p.strip().split("=", 1) for p in params.split(","))
            public = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), unb64url(parts["k"])
            )
            claims = jwt.decode(
                parts["t"],
                public,
                algorithms=["ES256"],
                audience=self.base_url,
                options={"require": ["aud", "exp", "sub"]},
            )
        except (ValueError, KeyError, jwt.PyJWTError) as exc:
            raise Refused(401, f"bad VAPID authorization: {exc}") from None
        if scheme.lower() != "vapid":
            raise Refused(401, "Authorization scheme must be vapid")
        if claims["exp"] > time.time() + 24 * 3600:
            raise Refused(403, "JWT exp more than 24 hours ahead")
        if browser.application_server_key and parts["k"] != browser.application_server_key:
            raise Refused(403, "VAPID key differs from the one the browser subscribed with")
        return claims, parts["k"]

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/push/{id}", self.push, methods=["POST"])])

    @contextlib.contextmanager
    def running(self) -> Iterator["FakePushService"]:
        with serve_in_thread(self.app) as url:
            self.base_url = url
            yield self
