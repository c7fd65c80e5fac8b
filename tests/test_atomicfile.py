"""The one atomic writer: readers see the old or the new file, never a partial one; no temporary file is left."""

from __future__ import annotations

import stat

import pytest

from amlops.atomicfile import atomic_path, write_text


def test_write_text_replaces_the_file_and_leaves_no_sibling(tmp_path):
    path = tmp_path / "sub" / "keys.json"
    write_text(path, "old")
    write_text(path, "new", mode=0o600)
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["keys.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_two_writers_get_distinct_temporary_files(tmp_path):
    path = tmp_path / "x"
    with atomic_path(path) as first, atomic_path(path) as second:
        assert first != second and first.parent == second.parent == tmp_path
        first.write_text("1")
        second.write_text("2")
    assert path.read_text() == "1"  # the outer block finishes last
