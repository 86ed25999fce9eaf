"""Keys derived from SECRET_KEY: one per purpose, so no key is ever used for two jobs.

A key ring is the current SECRET_KEY followed by SECRET_KEY_FALLBACKS (`Settings.secret_keys`):
the first key encrypts and signs; every key still decrypts and verifies, so a rotation breaks no
stored token and no link already sent. `shopify-app rotate-keys` re-encrypts stored tokens under
the current key, after which the old one can be dropped."""

import base64
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

Keys = str | Sequence[str]  # one key, or a ring: current first


def _ring(keys: Keys) -> tuple[str, ...]:
    return (keys,) if isinstance(keys, str) else tuple(keys)


def derive_key(secret_key: str, purpose: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        secret_key.encode()
    )


@lru_cache(maxsize=8)
def _fernet(ring: tuple[str, ...]) -> MultiFernet:
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(derive_key(k, "access-token-encryption"))) for k in ring]
    )


def encrypt_token(keys: Keys, token: str) -> str:
    return _fernet(_ring(keys)).encrypt(token.encode()).decode()


def decrypt_token(keys: Keys, encrypted: str) -> str | None:
    try:
        return _fernet(_ring(keys)).decrypt(encrypted.encode()).decode()
    except InvalidToken:
        return None


def reencrypt_token(keys: Keys, encrypted: str) -> str | None:
    """The same token under the current key; None if no key of the ring opens it."""
    try:
        return _fernet(_ring(keys)).rotate(encrypted.encode()).decode()
    except InvalidToken:
        return None


def signer(keys: Keys, purpose: str) -> URLSafeTimedSerializer:
    """A signer for short-lived values (OAuth state cookie, opt-in and unsubscribe links)."""
    return _signer(_ring(keys), purpose)


@lru_cache(maxsize=32)
def _signer(ring: tuple[str, ...], purpose: str) -> URLSafeTimedSerializer:
    # Made once per key ring and purpose: every alert signs its unsubscribe link, and deriving the
    # key each time was a sizeable part of sending one. itsdangerous signs with the last key of its
    # list and verifies with all of them.
    return URLSafeTimedSerializer(
        [derive_key(k, "signing").hex() for k in reversed(ring)], salt=purpose
    )


def unsign(keys: Keys, purpose: str, value: str, max_age: int):
    """The signed payload, or None if it is forged or older than max_age seconds."""
    try:
        return signer(keys, purpose).loads(value, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
