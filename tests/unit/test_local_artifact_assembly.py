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

    def dying_copy(target, path, size_bytes):  # type: ignore[no-untyped-def]
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError("the process died here")
        real_copy(target, path, size_bytes)

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

    def counting_copy(target, path, size_bytes):  # type: ignore[no-untyped-def]
        parts_left.append(len(store.list_parts(KEY)))
        real_copy(target, path, size_bytes)

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

    def dying_copy(target: object, path: Path, size_bytes: int) -> None:
        real_copy(target, path, size_bytes // 2)  # type: ignore[arg-type]
        raise OSError("killed mid-copy")

    store.assemble(KEY, [1], HEAD)
    monkeypatch.setattr(local, "copy_into", dying_copy)
    with pytest.raises(OSError, match="killed"):
        store.assemble(KEY, [1, 2], HEAD)
    monkeypatch.setattr(local, "copy_into", real_copy)
    assert store.complete(KEY, [1, 2, 3], HEAD, TAIL) == len(EXPECTED)
    assert b"".join(store.read(KEY)) == EXPECTED
