"""A push service on 127.0.0.1 that does what a browser vendor's would: checks the VAPID JWT
against the key in the header, and decrypts the aes128gcm body with the subscription's private
key and auth secret (http_ece), proving the encryption is real."""

import base64
import json
import os
import uuid
from dataclasses import dataclass, field

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_keys() -> tuple[str, str]:
    """(private, public) as the settings take them: raw 32-byte scalar, uncompressed point."""
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

    @property
    def subscription(self) -> dict:
        point = self.private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}}


@dataclass
class FakePushService:
    base_url: str = ""
    browsers: dict[str, Browser] = field(default_factory=dict)
    delivered: list[dict] = field(default_factory=list)     # {"id", "payload", "headers", "claims"}
    gone: set[str] = field(default_factory=set)
    requests: int = 0

    def new_browser(self) -> Browser:
        browser_id = uuid.uuid4().hex
        browser = Browser(f"{self.base_url}/push/{browser_id}", ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
        self.browsers[browser_id] = browser
        return browser

    async def push(self, request: Request) -> Response:
        self.requests += 1
        browser_id = request.path_params["id"]
        if browser_id in self.gone or browser_id not in self.browsers:
            return Response(status_code=410)
        scheme, _, params = request.headers.get("authorization", "").partition(" ")
        parts = dict(p.split("=", 1) for p in params.split(","))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
        claims = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=self.base_url)
        if scheme != "vapid" or request.headers.get("content-encoding") != "aes128gcm":
            return Response(status_code=400)
        browser = self.browsers[browser_id]
        plain = http_ece.decrypt(await request.body(), private_key=browser.private_key, auth_secret=browser.auth,
                                 version="aes128gcm")
        self.delivered.append({"id": browser_id, "payload": json.loads(plain), "headers": dict(request.headers),
                               "claims": claims, "vapid_public": parts["k"]})
        return Response(status_code=201, headers={"Location": f"{self.base_url}/messages/{uuid.uuid4().hex}"})

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/push/{id}", self.push, methods=["POST"])])
