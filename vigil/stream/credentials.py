"""Passwords and API tokens: hashed with argon2 (argon2-cffi) and SHA-256, never stored in clear.

A password is stored as an argon2id hash (salted, memory-hard: a stolen site file does not give
the passwords away). An API token is 32 random bytes, so a plain SHA-256 of it is enough: it
cannot be guessed, only stolen, and the site file holds only its digest.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "vigil_"  # recognisable in a leaked-secret scan
TOKEN_BYTES = 32

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (``$argon2id$v=19$...``), with a random salt."""
    return _HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``.

    With ``password_hash`` None (an unknown user) a dummy hash is verified all the same, so the
    answer takes as long as for a known user: the timing does not tell which names exist.
    """
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
        return False


def new_token() -> str:
    """A new random API token, e.g. ``vigil_3q2-...`` (shown once; only its digest is kept)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """The hex SHA-256 of ``token``: what the site file stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
