"""The whole-file checksums continued from the slices' stored running hashes: equal to hashlib's
over head + parts + tail however far the chain got, and refused (so the published file is read
instead) when a state came from another head or a part is gone."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.contract.task_samples import make_task

from logsluice.adapters.artifacts import LocalArtifactStore
from logsluice.domain.tasks import SliceStatus, Task, TaskSlice
from logsluice.domain.timerange import TimeRange
from logsluice.services.task_file_hash import (
    continued,
    first_unhashed,
    hash_part,
    hashes_of_parts,
    saved_state,
)
from logsluice.services.task_files import artifact_key

T0 = datetime(2024, 3, 1, tzinfo=UTC)
HEAD = b"head,row\n"
PARTS = [b"first part " * 100, b"", b"third" * 7, b"fourth part, the last " * 50]


@pytest.fixture
def task() -> Task:
    return Task.queued(project="web", spec=make_task().spec, now=T0)


@pytest.fixture
def store(tmp_path: Path, task: Task) -> LocalArtifactStore:
    store = LocalArtifactStore(tmp_path)
    for number, data in enumerate(PARTS, start=1):
        if data:
            writer = store.open_part(artifact_key(task), number)
            writer.write(data)
            writer.commit()
    return store


def _slices(task: Task) -> list[TaskSlice]:
    return [
        TaskSlice(
            task_id=task.id,
            slice_index=index,
            time_range=TimeRange(T0 + timedelta(minutes=index), T0 + timedelta(minutes=index + 1)),
            status=SliceStatus.DONE,
            rows=1 if data else 0,
            size_bytes=len(data),
            written_at=T0,
        )
        for index, data in enumerate(PARTS)
    ]


def _chained(
    task: Task, store: LocalArtifactStore, slices: list[TaskSlice], through: int, head: bytes
) -> list[TaskSlice]:
    """The slices with the states a worker stores, up to and including slice ``through``."""
    started = continued(slices, 0, lambda: head)
    assert started is not None
    digest, hashes = started
    chained = []
    for item in slices:
        if item.slice_index <= through:
            hash_part(store, task, item, hashes)
            item = replace(item, file_hash_state=saved_state(digest, hashes))
        chained.append(item)
    return chained


def _whole(tail: bytes = b"") -> tuple[str, str]:
    data = HEAD + b"".join(PARTS) + tail
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.mark.parametrize("through", [-1, 0, 1, 2, 3])
def test_the_checksums_continue_the_chain_however_far_it_got(
    task: Task, store: LocalArtifactStore, through: int
) -> None:
    slices = _chained(task, store, _slices(task), through, HEAD)
    assert first_unhashed(slices) == (None if through == 3 else through + 1)
    hashes = hashes_of_parts(task, slices, store, HEAD)
    assert hashes is not None
    hashes.update(b"footer")
    assert hashes.hexdigests() == _whole(b"footer")
    assert hashes.size_bytes == len(HEAD) + sum(map(len, PARTS)) + len(b"footer")


def test_a_fully_hashed_chain_reads_no_part(task: Task, store: LocalArtifactStore) -> None:
    slices = _chained(task, store, _slices(task), 3, HEAD)
    store.abort_parts(artifact_key(task))  # a completer published them (and died) before
    hashes = hashes_of_parts(task, slices, store, HEAD)
    assert hashes is not None
    assert hashes.hexdigests() == _whole()


def test_a_chain_from_another_head_is_refused(task: Task, store: LocalArtifactStore) -> None:
    slices = _chained(task, store, _slices(task), 1, b"another,header\n")
    assert hashes_of_parts(task, slices, store, HEAD) is None


def test_a_part_gone_or_of_another_size_is_refused(task: Task, store: LocalArtifactStore) -> None:
    slices = _slices(task)
    assert (
        hashes_of_parts(task, [*slices[:2], replace(slices[2], size_bytes=3)], store, HEAD) is None
    )
    store.abort_parts(artifact_key(task))
    assert hashes_of_parts(task, slices, store, HEAD) is None


def test_a_slice_given_up_as_missing_adds_nothing(task: Task, store: LocalArtifactStore) -> None:
    slices = _slices(task)
    slices[1] = replace(slices[1], status=SliceStatus.FAILED_INCOMPLETE)
    hashes = hashes_of_parts(task, slices, store, HEAD)
    assert hashes is not None
    assert hashes.hexdigests() == _whole()
