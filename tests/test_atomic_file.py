"""Files written in one step: whole or not at all, under a temporary name of each writer's
own, with the permissions asked for or those the file had."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agi import atomic_file
from agi.atomic_file import create_file, replace_file


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("before", "content", "mode", "after", "after_mode"),
    [
        (None, b"\x00\xff", 0o640, b"\x00\xff", 0o640),
        (None, "Показания приняты.", 0o600, "Показания приняты.".encode(), 0o600),
        ((b"old", 0o640), b"new", None, b"new", 0o640),
        ((b"old", 0o640), b"new", 0o644, b"new", 0o644),
    ],
    ids=["new bytes", "new text as UTF-8", "keeps its mode", "takes the mode given"],
)
def test_a_replaced_file_holds_the_new_content_with_its_mode(
    tmp_path, before, content, mode, after, after_mode
):
    path = tmp_path / "file"
    if before is not None:
        path.write_bytes(before[0])
        path.chmod(before[1])
    replace_file(path, content, mode=mode)
    assert (path.read_bytes(), mode_of(path)) == (after, after_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_new_file_without_a_mode_gets_the_usual_one_not_owner_only(tmp_path):
    umask = os.umask(0o022)
    try:
        replace_file(tmp_path / "file", b"x")
    finally:
        os.umask(umask)
    assert mode_of(tmp_path / "file") == 0o644


def test_writers_at_the_same_time_each_write_whole(tmp_path):
    path = tmp_path / "file"
    contents = [bytes([n]) * 200_000 for n in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda content: replace_file(path, content), contents))
    assert path.read_bytes() in contents
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        replace_file(path, 42)  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_created_file_is_the_first_writers_and_never_replaced(tmp_path):
    path = tmp_path / "file"
    create_file(path, "first\n", mode=0o600)
    with pytest.raises(FileExistsError):
        create_file(path, "second\n", mode=0o644)
    assert (path.read_text(), mode_of(path)) == ("first\n", 0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_the_umask_is_read_without_being_changed(tmp_path, monkeypatch):
    """A new file gets the process's umask; reading it never sets one, which would leave
    another thread's file of that moment without any."""
    kept = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda mask: pytest.fail(f"the umask was set to {mask:o}"))
        replace_file(tmp_path / "file", b"x")
    finally:
        monkeypatch.undo()
        os.umask(kept)
    assert mode_of(tmp_path / "file") == 0o640


def test_without_proc_the_umask_is_the_one_at_import(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic_file, "_STATUS", tmp_path / "no-proc")
    assert atomic_file.read_umask() == atomic_file._UMASK_AT_IMPORT


@pytest.mark.parametrize("write", [replace_file, create_file], ids=["replaced", "created"])
def test_the_content_is_on_disk_before_the_file_has_its_name(tmp_path, monkeypatch, write):
    path, synced = tmp_path / "file", []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((os.fstat(fd).st_size, path.exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write(path, b"secret\n", mode=0o600)
    assert synced == [(7, False)]
