"""File storage behind one small interface, so uploaded files (MDF proof of performance)
can move from local disk to an object store without touching the domains.

Keys are relative, `/`-separated paths of safe segments (`mdf/<tenant>/<sha256>`); a key
never escapes the storage root. `LocalDiskStorage` writes through a temporary file and
an atomic rename, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from prm.settings import Settings

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (replacing what was there)."""

    def open(self, key: str) -> BinaryIO:
        """The stored bytes for reading; `FileNotFoundError` if there are none."""

    def delete(self, key: str) -> None:
        """Forget `key`; no error if it is absent."""

    def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""


def check_key(key: str) -> list[str]:
    """The key's segments, or `ValueError` for a key that could escape the root."""
    parts = key.split("/")
    if not parts or any(not _SEGMENT.match(part) or part in {".", ".."} for part in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return parts


class LocalDiskStorage:
    """Files under `root` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key))

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def get_storage(settings: Settings) -> Storage:
    """The configured storage: local disk under `storage_dir` (default `data_dir/files`)."""
    return LocalDiskStorage(settings.storage_dir or settings.data_dir / "files")
