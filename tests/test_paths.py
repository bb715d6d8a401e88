"""sim.paths: the one atomic write every output file goes through (ensemble parts and manifest,
reports, validation outputs, the calibration record)."""

from __future__ import annotations

import os

import pytest

from sim.paths import write_atomic


def test_text_is_written_as_utf8_and_bytes_as_given_with_a_new_files_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        text = write_atomic(tmp_path / "a.html", "prix \u20ac\n")
        raw = write_atomic(str(tmp_path / "b.parquet"), b"\x00\xffPAR1")
    finally:
        os.umask(old)
    assert text.read_bytes() == "prix \u20ac\n".encode("utf-8") and raw.read_bytes() == b"\x00\xffPAR1"
    # as any new file (0666 less the umask), not a temporary file's 0600
    assert {p.stat().st_mode & 0o777 for p in (text, raw)} == {0o640}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.parquet"]  # no temporary left


def test_an_existing_file_is_replaced_whole(tmp_path):
    p = tmp_path / "manifest.json"
    p.write_text("old and longer than the new text")
    write_atomic(p, "new")
    assert p.read_text() == "new" and [x.name for x in tmp_path.iterdir()] == ["manifest.json"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, error):
    p = tmp_path / "part-00000.parquet"
    p.write_bytes(b"old")

    def fail(*a, **k):
        raise error

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(type(error)):
        write_atomic(p, b"new")
    assert p.read_bytes() == b"old" and [x.name for x in tmp_path.iterdir()] == ["part-00000.parquet"]
