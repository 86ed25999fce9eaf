"""Keys derived from SECRET_KEY: one per purpose, so no key is ever used for two jobs."""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


def derive_key(secret_key: str, purpose: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        secret_key.encode()
    )


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, "access-token-encryption")))


def encrypt_token(secret_key: str, token: str) -> str:
    return _fernet(secret_key).encrypt(token.encode()).decode()


def decrypt_token(secret_key: str, encrypted: str) -> str | None:
    try:
        return _fernet(secret_key).decrypt(encrypted.encode()).decode()
    except InvalidToken:
        return None


def signer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    """A signer for short-lived values (OAuth state cookie, opt-in and unsubscribe links)."""
    return URLSafeTimedSerializer(derive_key(secret_key, "signing").hex(), salt=purpose)


def unsign(secret_key: str, purpose: str, value: str, max_age: int):
    """The signed payload, or None if it is forged or older than max_age seconds."""
    try:
        return signer(secret_key, purpose).loads(value, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
