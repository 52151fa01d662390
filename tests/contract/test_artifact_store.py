"""Contract of the ArtifactStore port, run against every implementation: the local directory
(as a path and as a ``file://`` URL) and the S3 store on a real S3-compatible server (moto)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logsluice.adapters.artifacts import LocalArtifactStore, build_artifact_store
from logsluice.domain.errors import ArtifactNotFoundError, ArtifactStagingError, InvalidInputError
from logsluice.pipeline.protocols import ArtifactStore, PartInfo
from logsluice.pipeline.resumable_hash import ResumableHashes
from tests.s3_server import S3Bucket

KEY = "project-a/0123abcd/export.csv.zst"
StoreFactory = Callable[[Path], ArtifactStore]
FACTORIES: dict[str, StoreFactory] = {
    "local": LocalArtifactStore,
    "local-url": lambda root: build_artifact_store(f"file://{root}"),
}


S3_STORE = "s3"


@pytest.fixture(params=[*sorted(FACTORIES), S3_STORE])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == S3_STORE:
        return s3_store(request.getfixturevalue("s3_bucket"))
    return FACTORIES[request.param](tmp_path / "artifacts")


def s3_store(bucket: S3Bucket) -> ArtifactStore:
    """The S3 store on its own bucket of the session's moto server, under a prefix."""
    url = bucket.url("exports/logsluice")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in bucket.server.environment().items():
            patch.setenv(name, value)
        return build_artifact_store(url)


def stage(store: ArtifactStore, key: str, *pieces: bytes) -> None:
    staging = store.open_staging(key)
    for piece in pieces:
        staging.write(piece)
    staging.sync()
    staging.close()


def read_all(store: ArtifactStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.read(key, start, end))


def test_staged_bytes_are_invisible_until_published(store: ArtifactStore) -> None:
    stage(store, KEY, b"hello ", b"world")
    assert not store.exists(KEY)
    with pytest.raises(ArtifactNotFoundError):
        store.size(KEY)
    assert store.publish(KEY) == 11
    assert store.exists(KEY)
    assert store.size(KEY) == 11
    assert read_all(store, KEY) == b"hello world"
    with pytest.raises(ArtifactNotFoundError):
        store.staging_size(KEY)


def test_reads_take_byte_ranges_clipped_at_the_end(store: ArtifactStore) -> None:
    stage(store, KEY, bytes(range(256)) * 8192)  # 2 MiB: more than one read chunk
    store.publish(KEY)
    assert read_all(store, KEY, 10, 20) == bytes(range(10, 20))
    assert read_all(store, KEY, 2 * 1024 * 1024 - 3) == bytes([253, 254, 255])
    assert read_all(store, KEY, 100, 10**9) == (bytes(range(256)) * 8192)[100:]
    assert read_all(store, KEY, 5, 5) == b""


def test_open_staging_at_an_offset_cuts_what_follows(store: ArtifactStore) -> None:
    stage(store, KEY, b"0123456789")
    staging = store.open_staging(KEY, 4)
    staging.write(b"abc")
    staging.close()
    assert store.staging_size(KEY) == 7
    assert b"".join(store.read_staging(KEY, 0, 7)) == b"0123abc"
    assert b"".join(store.read_staging(KEY, 2, 5)) == b"23a"


def test_open_staging_past_the_end_or_missing_is_a_staging_error(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactStagingError):
        store.open_staging(KEY, 1)
    stage(store, KEY, b"abc")
    with pytest.raises(ArtifactStagingError):
        store.open_staging(KEY, 4)


def test_open_staging_at_zero_starts_over(store: ArtifactStore) -> None:
    stage(store, KEY, b"old content")
    stage(store, KEY, b"new")
    store.publish(KEY)
    assert read_all(store, KEY) == b"new"


def test_publish_replaces_an_earlier_artifact(store: ArtifactStore) -> None:
    stage(store, KEY, b"first")
    store.publish(KEY)
    stage(store, KEY, b"second")
    assert read_all(store, KEY) == b"first"
    store.publish(KEY)
    assert read_all(store, KEY) == b"second"


def test_put_publishes_a_small_object(store: ArtifactStore) -> None:
    store.put("project-a/0123abcd/manifest.json", b"{}")
    assert read_all(store, "project-a/0123abcd/manifest.json") == b"{}"


def test_delete_removes_published_and_staging_and_tolerates_absence(store: ArtifactStore) -> None:
    stage(store, KEY, b"x")
    store.publish(KEY)
    stage(store, KEY, b"y")
    store.delete(KEY)
    assert not store.exists(KEY)
    with pytest.raises(ArtifactNotFoundError):
        store.staging_size(KEY)
    store.delete(KEY)
    with pytest.raises(ArtifactNotFoundError):
        read_all(store, KEY)


def test_missing_things_are_not_found(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFoundError):
        store.publish(KEY)
    with pytest.raises(ArtifactNotFoundError):
        read_all(store, KEY)
    with pytest.raises(ArtifactNotFoundError):
        b"".join(store.read_staging(KEY, 0, 1))


@pytest.mark.parametrize("key", ["", "/abs/key", "a/../b", "a//b", "a/./b", ".staging/x"])
def test_invalid_keys_are_refused(store: ArtifactStore, key: str) -> None:
    with pytest.raises(InvalidInputError):
        store.exists(key)


def test_keys_of_different_tasks_are_independent(store: ArtifactStore) -> None:
    stage(store, "p/t1/out.csv", b"one")
    stage(store, "p/t2/out.csv", b"two")
    store.publish("p/t1/out.csv")
    assert not store.exists("p/t2/out.csv")
    assert store.staging_size("p/t2/out.csv") == 3


def test_a_reader_never_sees_a_partial_artifact(store: ArtifactStore) -> None:
    """While a new version is published over an old one, reads see one or the other whole."""
    old, new = b"a" * 200_000, b"b" * 300_000
    stage(store, KEY, old)
    store.publish(KEY)
    seen: set[tuple[bytes, int]] = set()
    stop = threading.Event()

    def read_repeatedly() -> None:
        while not stop.is_set():
            data = read_all(store, KEY)
            seen.add((data[:1], len(data)))

    thread = threading.Thread(target=read_repeatedly)
    thread.start()
    for _ in range(5):
        stage(store, KEY, new)
        store.publish(KEY)
        stage(store, KEY, old)
        store.publish(KEY)
    stop.set()
    thread.join()
    assert seen <= {(b"a", len(old)), (b"b", len(new))}


def test_local_store_leaves_no_empty_task_directories(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    store = LocalArtifactStore(root)
    manifest_key = KEY.rsplit("/", 1)[0] + "/manifest.json"
    stage(store, KEY, b"x")
    store.publish(KEY)
    store.put(manifest_key, b"{}")
    assert not (root / ".staging" / "project-a" / "0123abcd").exists()  # nothing staged now
    stage(store, KEY, b"y")  # a later run's partial file
    store.delete(KEY)
    assert (root / "project-a" / "0123abcd").is_dir()  # the manifest is still there
    store.delete(manifest_key)
    assert not (root / "project-a" / "0123abcd").exists()
    assert not (root / ".staging" / "project-a" / "0123abcd").exists()


# --- parts: slices written independently, published as one file ---------------------------------


def write_part(store: ArtifactStore, key: str, number: int, *pieces: bytes) -> PartInfo:
    writer = store.open_part(key, number)
    for piece in pieces:
        writer.write(piece)
    return writer.commit()


def test_a_committed_part_has_its_size_and_checksums(store: ArtifactStore) -> None:
    info = write_part(store, KEY, 2, b"hello ", b"world")
    assert info == PartInfo(
        2,
        11,
        hashlib.sha256(b"hello world").hexdigest(),
        hashlib.md5(b"hello world", usedforsecurity=False).hexdigest(),
    )
    assert store.list_parts(KEY) == [info]
    assert b"".join(store.read_part(KEY, 2)) == b"hello world"
    assert not store.exists(KEY)


def test_a_part_hashed_with_the_callers_running_hash_leaves_it_to_go_on(
    store: ArtifactStore,
) -> None:
    hashes = ResumableHashes()
    writer = store.open_part(KEY, 1, hashes=hashes)
    writer.write(b"hello ")
    writer.write(b"world")
    info = writer.commit()
    assert info == replace(write_part(store, KEY, 2, b"hello world"), number=1)
    assert hashes.size_bytes == 11  # the writer hashed with it, once
    hashes.update(b"!")  # the caller goes on: the artifact's hash through the next bytes
    assert hashes.hexdigests() == (
        hashlib.sha256(b"hello world!").hexdigest(),
        hashlib.md5(b"hello world!", usedforsecurity=False).hexdigest(),
    )
    started = ResumableHashes()
    started.update(b"head")
    with pytest.raises(ValueError, match="start from no bytes"):
        store.open_part(KEY, 3, hashes=started)


def test_parts_are_listed_in_number_order_whatever_the_order_written(store: ArtifactStore) -> None:
    for number in (3, 1, 12, 2):
        write_part(store, KEY, number, f"part {number};".encode())
    assert [info.number for info in store.list_parts(KEY)] == [1, 2, 3, 12]


def test_an_uncommitted_part_is_invisible_and_an_aborted_one_leaves_the_old(
    store: ArtifactStore,
) -> None:
    old = write_part(store, KEY, 1, b"old bytes")
    writer = store.open_part(KEY, 1)
    writer.write(b"new half")
    assert store.list_parts(KEY) == [old]
    writer.abort()
    writer.abort()  # a second abort is harmless
    assert store.list_parts(KEY) == [old]
    assert b"".join(store.read_part(KEY, 1)) == b"old bytes"


def test_a_rewritten_part_replaces_the_committed_one(store: ArtifactStore) -> None:
    write_part(store, KEY, 1, b"first attempt, longer")
    again = write_part(store, KEY, 1, b"second")
    assert store.list_parts(KEY) == [again]
    assert b"".join(store.read_part(KEY, 1)) == b"second"


def test_two_attempts_at_one_part_at_once_leave_one_whole_part(store: ArtifactStore) -> None:
    first, second = store.open_part(KEY, 1), store.open_part(KEY, 1)
    first.write(b"a" * 1000)
    second.write(b"b" * 2000)
    second.commit()
    first.commit()
    data = b"".join(store.read_part(KEY, 1))
    assert data in (b"a" * 1000, b"b" * 2000)
    assert [info.size_bytes for info in store.list_parts(KEY)] == [len(data)]


def test_complete_publishes_head_parts_in_order_and_tail(store: ArtifactStore) -> None:
    big = bytes(range(256)) * 8192  # 2 MiB: more than one copy chunk of a slow path
    write_part(store, KEY, 3, b"-three")
    write_part(store, KEY, 1, b"-one", big)
    write_part(store, KEY, 2, b"-two")
    size = store.complete(KEY, [1, 2, 3], head=b"HEAD", tail=b"TAIL")
    expected = b"HEAD-one" + big + b"-two-threeTAIL"
    assert size == len(expected) == store.size(KEY)
    assert read_all(store, KEY) == expected
    assert store.list_parts(KEY) == []


def test_complete_leaves_out_parts_not_listed_and_skips_absent_numbers(
    store: ArtifactStore,
) -> None:
    write_part(store, KEY, 1, b"one")
    write_part(store, KEY, 4, b"four")
    write_part(store, KEY, 5, b"five (past the limit)")
    assert store.complete(KEY, [1, 4]) == 7
    assert read_all(store, KEY) == b"onefour"
    assert store.list_parts(KEY) == []


def test_complete_is_idempotent(store: ArtifactStore) -> None:
    write_part(store, KEY, 1, b"abc")
    assert store.complete(KEY, [1], tail=b"!") == 4
    assert store.complete(KEY, [1], tail=b"!") == 4
    assert read_all(store, KEY) == b"abc!"


def test_complete_with_a_missing_part_publishes_nothing(store: ArtifactStore) -> None:
    write_part(store, KEY, 1, b"one")
    with pytest.raises(ArtifactNotFoundError):
        store.complete(KEY, [1, 2])
    assert not store.exists(KEY)
    assert [info.number for info in store.list_parts(KEY)] == [1]


def test_complete_without_parts_publishes_head_and_tail(store: ArtifactStore) -> None:
    assert store.complete(KEY, [], head=b"a,b\n") == 4
    assert read_all(store, KEY) == b"a,b\n"


def test_parts_put_together_early_are_completed_with_the_rest(store: ArtifactStore) -> None:
    for number, data in [(1, b"-one"), (2, b"-two"), (4, b"-four"), (5, b"-five")]:
        write_part(store, KEY, number, data)
    store.assemble(KEY, [1], head=b"head")
    store.assemble(KEY, [1, 2], head=b"head")
    store.assemble(KEY, [1], head=b"head")  # a late, shorter call changes nothing
    assert not store.exists(KEY)  # nothing is published before complete
    assert store.complete(KEY, [1, 2, 4, 5], head=b"head", tail=b"!") == 23
    assert read_all(store, KEY) == b"head-one-two-four-five!"
    assert store.list_parts(KEY) == []
    assert store.complete(KEY, [1, 2, 4, 5], head=b"head", tail=b"!") == 23


def test_a_first_part_given_the_head_holds_only_its_own_bytes_and_completes_exactly(
    store: ArtifactStore,
) -> None:
    writer = store.open_part(KEY, 1, b"a,b\n")
    writer.write(b"1,2\n")
    first = writer.commit()
    assert first == PartInfo(
        1,
        4,
        hashlib.sha256(b"1,2\n").hexdigest(),
        hashlib.md5(b"1,2\n", usedforsecurity=False).hexdigest(),
    )
    assert store.list_parts(KEY) == [first]
    assert b"".join(store.read_part(KEY, 1)) == b"1,2\n"
    write_part(store, KEY, 2, b"3,4\n")
    store.assemble(KEY, [1], head=b"a,b\n")
    assert store.complete(KEY, [1, 2], head=b"a,b\n", tail=b"#") == 13
    assert read_all(store, KEY) == b"a,b\n1,2\n3,4\n#"


def test_a_first_part_given_another_head_completes_with_the_head_given_there(
    store: ArtifactStore,
) -> None:
    writer = store.open_part(KEY, 1, b"old head\n")
    writer.write(b"rows\n")
    writer.commit()
    assert store.complete(KEY, [1], head=b"new\n") == 9
    assert read_all(store, KEY) == b"new\nrows\n"


def test_parts_put_together_early_are_dropped_with_the_rest(store: ArtifactStore) -> None:
    write_part(store, KEY, 1, b"one")
    write_part(store, KEY, 2, b"two")
    store.assemble(KEY, [1], head=b"h")
    store.abort_parts(KEY)
    store.delete(KEY)
    store.assemble(KEY, [1, 2], head=b"h")  # after a delete: nothing is made again
    assert store.list_parts(KEY) == []
    assert not store.exists(KEY)
    with pytest.raises(ArtifactNotFoundError):
        store.complete(KEY, [1, 2], head=b"h")


def test_local_assembly_leaves_nothing_after_a_delete(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    store = LocalArtifactStore(root)
    write_part(store, KEY, 1, b"x")
    write_part(store, KEY, 2, b"y")
    store.assemble(KEY, [1], head=b"h")
    assert (root / ".staging" / KEY).is_file()  # the file to publish has begun
    store.delete(KEY)
    store.assemble(KEY, [1, 2], head=b"h")
    assert not (root / ".staging" / "project-a" / "0123abcd").exists()
    assert not (root / "project-a" / "0123abcd").exists()


def test_abort_parts_and_delete_drop_every_part(store: ArtifactStore) -> None:
    write_part(store, KEY, 1, b"one")
    writer = store.open_part(KEY, 2)
    writer.write(b"half")
    store.abort_parts(KEY)
    assert store.list_parts(KEY) == []
    with pytest.raises(ArtifactNotFoundError):
        b"".join(store.read_part(KEY, 1))
    write_part(store, KEY, 1, b"again")
    store.delete(KEY)
    assert store.list_parts(KEY) == []
    store.abort_parts(KEY)  # nothing there is fine


def test_parts_of_different_keys_are_independent(store: ArtifactStore) -> None:
    write_part(store, "p/t1/out.csv", 1, b"one")
    write_part(store, "p/t2/out.csv", 1, b"two")
    store.complete("p/t1/out.csv", [1])
    assert [info.size_bytes for info in store.list_parts("p/t2/out.csv")] == [3]


def test_part_numbers_start_at_one(store: ArtifactStore) -> None:
    with pytest.raises(InvalidInputError):
        store.open_part(KEY, 0)


def test_the_local_store_serves_links_itself(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    assert store.link(KEY, filename="export.csv.zst", expires_at=expires_at) is None


def test_local_parts_leave_no_directories_behind(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    store = LocalArtifactStore(root)
    write_part(store, KEY, 1, b"x")
    store.complete(KEY, [1])
    store.delete(KEY)
    assert not (root / ".staging" / "project-a" / "0123abcd").exists()
    assert not (root / "project-a" / "0123abcd").exists()
