"""The asymmetric key that signs access tokens, and the JWKS that publishes it.

`PRM_JWT_PRIVATE_KEY` (PEM) when set; else a P-256 key generated once into the data
directory (mode 0600) and reused, so tokens survive a restart. Several API processes on
one machine share the file; across machines set `PRM_JWT_PRIVATE_KEY`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey

from prm.settings import Settings

SigningKey = ECKey | RSAKey


@dataclass(frozen=True)
class KeyRing:
    signing: SigningKey
    algorithm: str

    @property
    def kid(self) -> str:
        return str(self.signing.kid)

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.signing]).as_dict(private=False))


def _algorithm(key: SigningKey) -> str:
    return "ES256" if isinstance(key, ECKey) else "RS256"


def _import(pem: bytes | str) -> SigningKey:
    raw = pem.encode() if isinstance(pem, str) else pem
    try:
        key: SigningKey = ECKey.import_key(raw)
    except Exception:  # not an EC key: RSA is the other accepted kind
        key = RSAKey.import_key(raw)
    if not key.is_private:
        raise ValueError("PRM_JWT_PRIVATE_KEY must be a private key")
    key.ensure_kid()
    return key


def _load_or_create(path: Path) -> SigningKey:
    if path.exists():
        return _import(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-256", private=True)
    pem = key.as_pem(private=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        with contextlib.suppress(FileExistsError):  # another process created it first
            os.link(tmp, path)  # atomic: the first process to create the key wins
    finally:
        tmp.unlink(missing_ok=True)
    return _import(path.read_bytes())


def load_keyring(settings: Settings) -> KeyRing:
    if settings.jwt_private_key is not None:
        key = _import(settings.jwt_private_key.get_secret_value())
    else:
        key = _load_or_create(settings.key_path)
    return KeyRing(signing=key, algorithm=_algorithm(key))
