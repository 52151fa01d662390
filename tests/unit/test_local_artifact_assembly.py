"""The local store's completion moves parts into the file one by one under a journal: a completion
that dies part-way resumes to the same file, and no part is copied twice over."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from logsluice.adapters.artifacts import local
from logsluice.adapters.artifacts.local import LocalArtifactStore

KEY = "shop/task-1/export.csv"
PARTS = {1: b"alpha,1\n" * 1000, 2: b"beta,2\n" * 2000, 3: b"gamma,3\n" * 500}
HEAD, TAIL = b"name,n\n", b"# end\n"
EXPECTED = HEAD + PARTS[1] + PARTS[2] + PARTS[3] + TAIL


def _write_parts(store: LocalArtifactStore) -> None:
    for number, data in PARTS.items():
        writer = store.open_part(KEY, number)
        writer.write(data)
        info = writer.commit()
        assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_a_completion_that_died_part_way_resumes_to_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalArtifactStore(tmp_path)
    _write_parts(store)
    real_copy = local.copy_into
    calls = []

    def dying_copy(target, path, size_bytes, start_bytes=0):  # type: ignore[no-untyped-def]
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError("the process died here")
        real_copy(target, path, size_bytes, start_bytes)

    monkeypatch.setattr(local, "copy_into", dying_copy)
    with pytest.raises(OSError, match="died here"):
        store.complete(KEY, [1, 2, 3], head=HEAD, tail=TAIL)
    assert not store.exists(KEY)  # nothing published
    assert [info.number for info in store.list_parts(KEY)] == [2, 3]  # part 1 moved in

    monkeypatch.setattr(local, "copy_into", real_copy)
    size = store.complete(KEY, [1, 2, 3], head=HEAD, tail=TAIL)
    assert size == len(EXPECTED)
    assert b"".join(store.read(KEY)) == EXPECTED
    assert store.list_parts(KEY) == []
    assert store.complete(KEY, [1, 2, 3], head=HEAD, tail=TAIL) == len(EXPECTED)  # idempotent


def test_completion_removes_each_part_as_it_is_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalArtifactStore(tmp_path)
    _write_parts(store)
    real_copy = local.copy_into
    parts_left = []

    def counting_copy(target, path, size_bytes, start_bytes=0):  # type: ignore[no-untyped-def]
        parts_left.append(len(store.list_parts(KEY)))
        real_copy(target, path, size_bytes, start_bytes)

    monkeypatch.setattr(local, "copy_into", counting_copy)
    store.complete(KEY, [1, 2, 3], head=HEAD, tail=TAIL)
    # the disk never holds the whole file twice: before each copy, the earlier parts are gone
    assert parts_left == [3, 2, 1]
    assert b"".join(store.read(KEY)) == EXPECTED


def test_assembling_while_another_thread_completes_gives_the_same_file(tmp_path: Path) -> None:
    import threading

    store = LocalArtifactStore(tmp_path)
    _write_parts(store)
    errors: list[BaseException] = []

    def assemble(numbers: list[int]) -> None:
        try:
            store.assemble(KEY, numbers, HEAD)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=assemble, args=([1, 2][:n],)) for n in (1, 2, 2, 1)]
    for thread in threads:
        thread.start()
    size = store.complete(KEY, [1, 2, 3], HEAD, TAIL)
    for thread in threads:
        thread.join()
    assert errors == []
    assert size == len(EXPECTED)
    assert b"".join(store.read(KEY)) == EXPECTED


def test_a_completion_continues_an_assembly_that_died_part_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalArtifactStore(tmp_path)
    _write_parts(store)
    real_copy = local.copy_into

    def dying_copy(target: object, path: Path, size_bytes: int, start_bytes: int = 0) -> None:
        real_copy(target, path, size_bytes // 2, start_bytes)  # type: ignore[arg-type]
        raise OSError("killed mid-copy")

    store.assemble(KEY, [1], HEAD)
    monkeypatch.setattr(local, "copy_into", dying_copy)
    with pytest.raises(OSError, match="killed"):
        store.assemble(KEY, [1, 2], HEAD)
    monkeypatch.setattr(local, "copy_into", real_copy)
    assert store.complete(KEY, [1, 2, 3], HEAD, TAIL) == len(EXPECTED)
    assert b"".join(store.read(KEY)) == EXPECTED


def _write_parts_with_head(store: LocalArtifactStore, head: bytes = HEAD) -> int:
    """Write the parts, the first with ``head`` in front; return the first part file's inode."""
    for number, data in PARTS.items():
        writer = store.open_part(KEY, number, head if number == 1 else None)
        writer.write(data)
        info = writer.commit()
        assert info.size_bytes == len(data)  # the head is no part of the part
        assert info.sha256 == hashlib.sha256(data).hexdigest()
    first = tmp_part_path(store, 1)
    return first.stat().st_ino


def tmp_part_path(store: LocalArtifactStore, number: int) -> Path:
    return store._parts_directory(KEY) / f"{number:08d}.part"


def test_a_first_part_written_behind_the_head_becomes_the_file_without_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalArtifactStore(tmp_path)
    inode = _write_parts_with_head(store)
    assert [info.size_bytes for info in store.list_parts(KEY)] == [len(PARTS[n]) for n in PARTS]
    assert b"".join(store.read_part(KEY, 1)) == PARTS[1]  # read without the head
    real_copy = local.copy_into
    copied: list[str] = []

    def recording_copy(target, path, size_bytes, start_bytes=0):  # type: ignore[no-untyped-def]
        copied.append(path.name)
        real_copy(target, path, size_bytes, start_bytes)

    monkeypatch.setattr(local, "copy_into", recording_copy)
    assert store.complete(KEY, [1, 2, 3], HEAD, TAIL) == len(EXPECTED)
    assert b"".join(store.read(KEY)) == EXPECTED
    assert copied == ["00000002.part", "00000003.part"]  # part 1 was not copied: renamed
    assert (tmp_path / KEY).stat().st_ino == inode
    assert store.list_parts(KEY) == []


def test_a_single_part_with_its_head_is_published_as_its_own_file(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    writer = store.open_part(KEY, 1, HEAD)
    writer.write(PARTS[1])
    writer.commit()
    inode = tmp_part_path(store, 1).stat().st_ino
    assert store.complete(KEY, [1], HEAD, TAIL) == len(HEAD + PARTS[1] + TAIL)
    assert b"".join(store.read(KEY)) == HEAD + PARTS[1] + TAIL
    assert (tmp_path / KEY).stat().st_ino == inode


def test_a_first_part_behind_another_head_is_copied_without_it(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    _write_parts_with_head(store, head=b"other,head\n")
    assert store.complete(KEY, [1, 2, 3], HEAD, TAIL) == len(EXPECTED)
    assert b"".join(store.read(KEY)) == EXPECTED


def test_an_adoption_that_died_before_its_rename_is_finished_by_the_next_completion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalArtifactStore(tmp_path)
    _write_parts_with_head(store)

    def dying_rename(*args: object) -> None:
        raise OSError("killed after the journal")

    monkeypatch.setattr(store, "_rename_adopted", dying_rename)
    with pytest.raises(OSError, match="killed"):
        store.assemble(KEY, [1], HEAD)
    assert tmp_part_path(store, 1).exists()  # the journal says adopted; the rename never ran
    monkeypatch.undo()
    assert store.complete(KEY, [1, 2, 3], HEAD, TAIL) == len(EXPECTED)
    assert b"".join(store.read(KEY)) == EXPECTED


def test_a_part_committed_with_the_older_trailer_is_still_read(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    _write_parts(store)
    path = tmp_part_path(store, 2)
    data = PARTS[2]
    old_trailer = local._OLD_TRAILER.pack(
        hashlib.sha256(data).digest(),
        hashlib.md5(data, usedforsecurity=False).digest(),
        len(data),
        local._OLD_MAGIC,
    )
    path.write_bytes(data + old_trailer)  # as a version before heads in front committed it
    info = store.list_parts(KEY)[1]
    assert (info.number, info.size_bytes) == (2, len(data))
    assert info.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert store.complete(KEY, [1, 2, 3], HEAD, TAIL) == len(EXPECTED)
    assert b"".join(store.read(KEY)) == EXPECTED
