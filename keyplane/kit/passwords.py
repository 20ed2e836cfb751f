"""Password hashing with Argon2id, run off the event loop (it costs tens of milliseconds)."""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 1024
"""A user's password, in characters: the one rule every interface (the API's schemas,
``keyplane init``, ``keyplane admin reset-password``) checks."""


def refusal(password: str) -> str | None:
    """Why ``password`` cannot be a user's password, or None when it can."""
    if len(password) < MIN_LENGTH:
        return f"A password has at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"A password has at most {MAX_LENGTH} characters"
    return None


_hasher = PasswordHasher()
# Verified against when the email is unknown, so a miss costs what a hit costs and the
# response time does not tell which emails exist.
_DUMMY = _hasher.hash("keyplane-timing-equaliser")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password: str, stored: str | None) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored or _DUMMY, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check)
