"""Protection of sensitive personal information (PIPL): encryption and keyed hashes.

Keys are derived from ``LMS_DATA_KEY`` (or, failing that, ``SECRET_KEY``) with
HKDF, one key per purpose, so a leaked hash key does not decrypt anything.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

# cryptography is imported where it is used: most CLI commands never derive a key or encrypt
# anything, and its import is a noticeable part of their start-up.


def _derive(purpose: bytes, master_key: str | None = None) -> bytes:
    cfg = current_app.config
    return _hkdf((master_key or cfg.get("LMS_DATA_KEY") or cfg["SECRET_KEY"]).encode(), purpose)


@functools.cache
def _hkdf(master: bytes, purpose: bytes) -> bytes:
    """The key for ``purpose`` under ``master`` (derived once per process: ``lms generate`` hashes and encrypts
    100,000 ID numbers, and the derivation is most of a hash's cost)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"shegong-academy", info=purpose).derive(master)


def _fernet(master_key: str | None = None) -> Fernet:
    """The cipher of the key (made once per key: ``lms generate`` encrypts 100,000 ID numbers)."""
    return _cipher(_derive(b"pii-encryption", master_key))


@functools.cache
def _cipher(key: bytes) -> Fernet:
    from cryptography.fernet import Fernet

    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_text(value: str) -> str:
    """Encrypt a sensitive value (authenticated, random IV)."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt_text(token: str) -> str:
    """Decrypt what :func:`encrypt_text` produced."""
    return _fernet().decrypt(token.encode()).decode()


def decrypts(token: str) -> bool:
    """Return whether ``token`` is something :func:`encrypt_text` produced under the current key."""
    from cryptography.fernet import InvalidToken

    try:
        decrypt_text(token)
    except (InvalidToken, UnicodeDecodeError):
        return False
    return True


def keyed_hash(value: str, purpose: str = "id-number") -> str:
    """Return an HMAC-SHA256 of ``value``: equal inputs match, the input cannot be recovered."""
    return hmac.new(_derive(purpose.encode()), value.encode(), hashlib.sha256).hexdigest()


def keyed_mac(purpose: str, message: str) -> bytes:
    """Return an HMAC-SHA256 of ``message`` under the key for ``purpose``."""
    return hmac.new(_derive(purpose.encode()), message.encode(), hashlib.sha256).digest()


def token_hash(token: str) -> str:
    """Hash a high-entropy random token (sessions, API tokens) for storage."""
    return hashlib.sha256(token.encode()).hexdigest()


def reencrypt(token: str, previous_key: str) -> str:
    """Decrypt ``token`` under the previous data key and encrypt it under the current one (key rotation).

    InvalidToken when the previous key is not the one ``token`` was encrypted with.
    """
    return encrypt_text(_fernet(previous_key).decrypt(token.encode()).decode())
