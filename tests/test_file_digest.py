"""Hashing the files a step reads (task data, file parameters, plugin sources) for cache keys:
bounded in time, never reading a device or /proc, the same digest as ever for ordinary data."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cookbook.contract.errors import CookbookError
from cookbook.pipeline import cache
from cookbook.pipeline.cache import file_digest


def old_digest(path: Path, pattern: str = "*") -> str:
    """The digest as Cookbook computed it before the bounds (content of every file)."""
    digest = hashlib.sha256()
    targets = sorted(p for p in path.rglob(pattern) if p.is_file()) if path.is_dir() else [path]
    for target in targets:
        digest.update(str(target.relative_to(path) if path.is_dir() else target.name).encode())
        digest.update(target.read_bytes())
    return digest.hexdigest()[:16]


def tree(root: Path) -> Path:
    (root / "b" / "c").mkdir(parents=True)
    (root / "a.json").write_text('{"a": 1}')
    (root / "b" / "z.py").write_text("print(1)\n")
    (root / "b" / "c" / "y.py").write_text("x = 2\n")
    (root / "b-c.txt").write_text("after b in text order, before it by parts")
    return root


def test_ordinary_files_and_folders_keep_their_digest(tmp_path):
    root = tree(tmp_path / "data")
    assert file_digest(root) == old_digest(root)
    assert file_digest(root, "*.py") == old_digest(root, "*.py")
    assert file_digest(root / "a.json") == old_digest(root / "a.json")
    package = Path(cache.__file__).parents[1]
    assert file_digest(package, "*.py") == old_digest(package, "*.py")


def test_devices_fifos_and_proc_are_never_read(tmp_path):
    with pytest.raises(CookbookError, match="/dev/zero: not a regular file or a folder"):
        file_digest("/dev/zero")
    with pytest.raises(CookbookError, match="/proc/self: an entry of a virtual file system"):
        file_digest("/proc/self")
    root = tree(tmp_path / "data")
    expected = file_digest(root)
    os.mkfifo(root / "pipe")  # reading it would block forever
    (root / "zero").symlink_to("/dev/zero")
    (root / "status").symlink_to("/proc/self/status")
    assert file_digest(root) == expected  # reading the fifo would have blocked forever


def test_a_large_folder_is_hashed_by_names_sizes_and_times(tmp_path, monkeypatch):
    root = tree(tmp_path / "data")
    content = file_digest(root)
    monkeypatch.setattr(cache, "DIGEST_CONTENT_BYTES", 10)
    listing = file_digest(root)
    assert listing != content and file_digest(root) == listing
    os.utime(root / "a.json", ns=(1, 1))
    assert file_digest(root) != listing  # a touched file counts as changed
    monkeypatch.setattr(cache, "DIGEST_CONTENT_BYTES", 1 << 30)
    monkeypatch.setattr(cache, "DIGEST_CONTENT_FILES", 2)
    assert file_digest(root) != content


def test_a_huge_folder_costs_no_more_than_listing_it(tmp_path, monkeypatch):
    root = tree(tmp_path / "data")
    with (root / "big.bin").open("wb") as f:
        f.truncate(4 << 30)  # sparse: 4 GiB that would take long to read
    read = []
    real = cache._hash_content
    monkeypatch.setattr(cache, "_hash_content", lambda d, p: (read.append(p), real(d, p)))
    file_digest(root)
    assert root / "big.bin" not in read  # listed by name, size and time, never read


def test_a_folder_of_too_many_files_is_an_error_naming_it(tmp_path, monkeypatch):
    root = tree(tmp_path / "data")
    monkeypatch.setattr(cache, "DIGEST_MAX_FILES", 3)
    with pytest.raises(CookbookError, match=r"data: a folder of more than 3 files"):
        file_digest(root)
