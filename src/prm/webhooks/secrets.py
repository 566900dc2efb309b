"""Endpoint signing secrets: made once, shown once, stored encrypted.

The secret must be readable again to sign each delivery, so a hash (as for API client
secrets) will not do: it is encrypted with Fernet (AES-128-CBC plus HMAC-SHA256, from
`cryptography`) under an application key. The key is `PRM_WEBHOOK_SECRET_KEY` (one or
more Fernet keys, comma-separated: the first encrypts, every one decrypts, so a key is
rotated by prepending the new one), else a key generated once into the data directory
(mode 0600, like the JWT signing key) and reused. Several processes on one machine
share the file; across machines set `PRM_WEBHOOK_SECRET_KEY`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from prm.settings import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes, urlsafe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class SecretBox:
    """Encrypts and decrypts endpoint secrets under the application key(s)."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one webhook secret key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The secret in clear; `ValueError` if no key opens it (a lost or wrong key)."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as error:
            raise ValueError("webhook secret cannot be decrypted with the configured keys") from (
                error
            )


def secret_box(settings: Settings) -> SecretBox:
    if settings.webhook_secret_key is not None:
        raw = settings.webhook_secret_key.get_secret_value()
        return _box(tuple(part.strip() for part in raw.split(",") if part.strip()))
    return _box((_load_or_create(settings.webhook_key_path),))


@lru_cache(maxsize=8)
def _box(keys: tuple[str, ...]) -> SecretBox:
    return SecretBox([key.encode("ascii") for key in keys])


def _load_or_create(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
        try:
            with contextlib.suppress(FileExistsError):  # another process created it first
                os.link(tmp, path)  # atomic: the first process to create the key wins
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text("ascii").strip()
