"""Merging the footers of Parquet slice parts into the footer of one file.

Each slice is written as a complete little Parquet file ("part") appended to the artifact; its
footer's offsets count from the part's own start. To finish the artifact, every part's footer
(Thrift compact protocol) is read into a generic tree, its offsets are shifted by where the part
landed, the row groups are concatenated, and one footer is written after the last part. Readers
only follow footer offsets, so the parts' own magic numbers and footers in between are never read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from logsluice.domain.errors import ArtifactStagingError

MAGIC = b"PAR1"
TRAILER_BYTES = 8  # 4-byte little-endian footer length + magic

# Thrift compact protocol type ids.
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)

# Field ids of parquet.thrift used here.
_FILE_NUM_ROWS, _FILE_ROW_GROUPS, _FILE_KEY_VALUES = 3, 4, 5
_GROUP_COLUMNS, _GROUP_FILE_OFFSET, _GROUP_ORDINAL = 1, 5, 7
_CHUNK_FILE_OFFSET, _CHUNK_META, _CHUNK_OFFSET_INDEX, _CHUNK_COLUMN_INDEX = 2, 3, 4, 6
_META_OFFSET_FIELDS = (9, 10, 11, 14)  # data, index, dictionary page, bloom filter offsets
_META_COMPRESSED_SIZE, _META_DATA_PAGE, _META_DICTIONARY_PAGE = 7, 9, 11
_KEY = 1

Struct = dict[int, tuple[int, Any]]


@dataclass(frozen=True)
class ThriftList:
    element_type: int
    items: list[Any]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def byte(self) -> int:
        value = self.data[self.position]
        self.position += 1
        return value

    def take(self, size: int) -> bytes:
        value = self.data[self.position : self.position + size]
        self.position += size
        return value

    def varint(self) -> int:
        result = shift = 0
        while True:
            value = self.byte()
            result |= (value & 0x7F) << shift
            shift += 7
            if not value & 0x80:
                return result

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def value(self, kind: int) -> Any:
        if kind in (_I16, _I32, _I64):
            return self.zigzag()
        if kind == _BINARY:
            return self.take(self.varint())
        if kind == _STRUCT:
            return self.structure()
        if kind in (_LIST, _SET):
            return self.sequence()
        if kind == _DOUBLE:
            return self.take(8)
        if kind in (_BYTE, _TRUE, _FALSE):
            return self.byte()
        raise ArtifactStagingError(f"unsupported Thrift type {kind} in a Parquet footer")

    def sequence(self) -> ThriftList:
        header = self.byte()
        size, element_type = header >> 4, header & 0x0F
        if size == 0x0F:
            size = self.varint()
        return ThriftList(element_type, [self.value(element_type) for _ in range(size)])

    def structure(self) -> Struct:
        fields: Struct = {}
        field_id = 0
        while (header := self.byte()) != 0:
            delta, kind = header >> 4, header & 0x0F
            field_id = field_id + delta if delta else self.zigzag()
            fields[field_id] = (
                kind,
                kind == _TRUE if kind in (_TRUE, _FALSE) else self.value(kind),
            )
        return fields


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def varint(self, value: int) -> None:
        out = bytearray()
        while value > 0x7F:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
        self.parts.append(bytes(out))

    def zigzag(self, value: int) -> None:
        self.varint((value << 1) ^ (value >> 63))

    def value(self, kind: int, value: Any) -> None:
        if kind in (_I16, _I32, _I64):
            self.zigzag(value)
        elif kind == _BINARY:
            self.varint(len(value))
            self.parts.append(value)
        elif kind == _STRUCT:
            self.structure(value)
        elif kind in (_LIST, _SET):
            self.sequence(value)
        else:  # double (raw 8 bytes) or byte
            self.parts.append(value if isinstance(value, bytes) else bytes([value]))

    def sequence(self, value: ThriftList) -> None:
        size = len(value.items)
        if size < 0x0F:
            self.parts.append(bytes([(size << 4) | value.element_type]))
        else:
            self.parts.append(bytes([0xF0 | value.element_type]))
            self.varint(size)
        for item in value.items:
            self.value(value.element_type, item)

    def structure(self, fields: Struct) -> None:
        previous = 0
        for field_id in sorted(fields):
            kind, value = fields[field_id]
            if kind in (_TRUE, _FALSE):
                kind = _TRUE if value else _FALSE
            delta = field_id - previous
            if 0 < delta <= 15:
                self.parts.append(bytes([(delta << 4) | kind]))
            else:
                self.parts.append(bytes([kind]))
                self.zigzag(field_id)
            if kind not in (_TRUE, _FALSE):
                self.value(kind, value)
            previous = field_id
        self.parts.append(b"\x00")


def read_footer(footer: bytes) -> Struct:
    """Parse a Thrift-encoded ``FileMetaData``."""
    try:
        return _Reader(footer).structure()
    except IndexError as error:
        raise ArtifactStagingError("truncated Parquet footer") from error


def encode_footer(metadata: Struct) -> bytes:
    """Serialize a ``FileMetaData`` tree back to Thrift compact bytes."""
    writer = _Writer()
    writer.structure(metadata)
    return b"".join(writer.parts)


def _shift(fields: Struct, field_ids: tuple[int, ...], delta: int) -> None:
    for field_id in field_ids:
        if field_id in fields:
            kind, value = fields[field_id]
            fields[field_id] = (kind, value + delta)


def _shift_row_group(group: Struct, delta: int) -> None:
    _shift(group, (_GROUP_FILE_OFFSET,), delta)
    for chunk in group[_GROUP_COLUMNS][1].items:
        _shift(chunk, (_CHUNK_FILE_OFFSET, _CHUNK_OFFSET_INDEX, _CHUNK_COLUMN_INDEX), delta)
        if _CHUNK_META in chunk:
            _shift(chunk[_CHUNK_META][1], _META_OFFSET_FIELDS, delta)


def merge_footers(parts: list[tuple[int, bytes]], drop_keys: frozenset[bytes]) -> bytes:
    """Return the trailing bytes (footer, length, magic) of a file made of Parquet ``parts``.

    ``parts`` are ``(start offset in the file, part footer)`` in file order; ``drop_keys`` are
    key-value metadata entries to leave out of the merged footer.
    """
    merged = read_footer(parts[0][1])
    groups: list[Any] = []
    rows = 0
    for start_bytes, footer in parts:
        metadata = read_footer(footer)
        for group in metadata[_FILE_ROW_GROUPS][1].items:
            _shift_row_group(group, start_bytes)
            if _GROUP_ORDINAL in group:
                group[_GROUP_ORDINAL] = (_I16, len(groups))
            groups.append(group)
        rows += metadata[_FILE_NUM_ROWS][1]
    merged[_FILE_ROW_GROUPS] = (_LIST, ThriftList(_STRUCT, groups))
    merged[_FILE_NUM_ROWS] = (_I64, rows)
    if _FILE_KEY_VALUES in merged:
        entries = merged[_FILE_KEY_VALUES][1].items
        kept = [entry for entry in entries if entry[_KEY][1] not in drop_keys]
        merged[_FILE_KEY_VALUES] = (_LIST, ThriftList(_STRUCT, kept))
    body = encode_footer(merged)
    return body + struct.pack("<I", len(body)) + MAGIC


def key_value(metadata: Struct, key: bytes) -> bytes | None:
    """Return the value of a key-value metadata entry of a ``FileMetaData`` tree, if present."""
    if _FILE_KEY_VALUES not in metadata:
        return None
    for entry in metadata[_FILE_KEY_VALUES][1].items:
        if entry[_KEY][1] == key:
            value: bytes = entry[2][1]
            return value
    return None


def column_data_end(metadata: Struct) -> int:
    """Return where a part's column chunks end, counted from the part's start.

    A part is the magic, its column chunks back to back, then its footer (no page index or bloom
    filters are written), so this is also where the footer starts: with it, a reader walking back
    from a part's end finds the part's start. Raises ArtifactStagingError for a part without rows.
    """
    ends = [
        _chunk_start(chunk[_CHUNK_META][1]) + chunk[_CHUNK_META][1][_META_COMPRESSED_SIZE][1]
        for group in metadata[_FILE_ROW_GROUPS][1].items
        for chunk in group[_GROUP_COLUMNS][1].items
        if _CHUNK_META in chunk
    ]
    if not ends:
        raise ArtifactStagingError("a Parquet part in the kept prefix has no column chunks")
    return int(max(ends))


def _chunk_start(meta: Struct) -> int:
    dictionary = meta.get(_META_DICTIONARY_PAGE)
    data = int(meta[_META_DATA_PAGE][1])
    return min(data, int(dictionary[1])) if dictionary is not None and dictionary[1] > 0 else data


_FOOTER_ENTRY = struct.Struct("<QI")  # offset of the little file in its part, footer length


def pack_footers(footers: list[tuple[int, bytes]]) -> bytes:
    """Serialize a part's ``(offset in the part, footer)`` list (stored with its slice)."""
    return b"".join(_FOOTER_ENTRY.pack(offset, len(footer)) + footer for offset, footer in footers)


def unpack_footers(data: bytes) -> list[tuple[int, bytes]]:
    """Read back what :func:`pack_footers` wrote."""
    footers, position = [], 0
    while position < len(data):
        offset, length = _FOOTER_ENTRY.unpack_from(data, position)
        position += _FOOTER_ENTRY.size
        footers.append((offset, data[position : position + length]))
        position += length
    return footers
