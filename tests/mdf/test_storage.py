"""The storage interface's local-disk implementation: round trips, replacement, deletion,
and keys that could escape the root refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from prm.settings import Settings
from prm.storage import LocalDiskStorage, Storage, get_storage


def test_put_open_delete_round_trip(tmp_path: Path) -> None:
    storage: Storage = LocalDiskStorage(tmp_path)
    storage.put("mdf/t1/abc", b"first")
    storage.put("mdf/t1/abc", b"second")
    with storage.open("mdf/t1/abc") as handle:
        assert handle.read() == b"second"
    assert storage.exists("mdf/t1/abc")
    assert [p.name for p in (tmp_path / "mdf" / "t1").iterdir()] == ["abc"]  # no temp left
    storage.delete("mdf/t1/abc")
    storage.delete("mdf/t1/abc")  # absent: no error
    assert not storage.exists("mdf/t1/abc")
    with pytest.raises(FileNotFoundError):
        storage.open("mdf/t1/abc")


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a//b", "", ".hidden", "a/."])
def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    storage = LocalDiskStorage(tmp_path / "root")
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put(key, b"x")
    assert not (tmp_path / "x").exists()


def test_default_location_and_override(tmp_path: Path) -> None:
    default = get_storage(Settings(data_dir=tmp_path))
    assert isinstance(default, LocalDiskStorage)
    assert default.root == tmp_path / "files"
    chosen = get_storage(Settings(data_dir=tmp_path, storage_dir=tmp_path / "elsewhere"))
    assert isinstance(chosen, LocalDiskStorage)
    assert chosen.root == tmp_path / "elsewhere"
