"""Running sha256 and md5 whose state can be saved as bytes and continued in another process.

The whole file's checksums are one running hash over the head and the parts in order (ADR 0018);
the parts finish on different workers at different times, so the state after each part is stored
with its slice and the next part continues from it. ``hashlib`` cannot export its state, so this
drives OpenSSL's own SHA256/MD5 functions (the library ``hashlib`` uses) through ``ctypes`` on
plain context structs, whose layout OpenSSL has kept since 0.9.8; calls release the GIL. The saved
form is versioned and spells every word little-endian, so any host can continue it.
``resumable_hashes_available`` says whether the library was found (callers fall back to hashing
the published file).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import struct

import pyarrow as pa

from logsluice.pipeline.protocols import Chunk

_FORMAT_TAG = b"lsh1"
_SHA256_WORDS = struct.Struct("<8I2I64s2I")  # h[8], Nl, Nh, data (a block of bytes), num, md_len
_MD5_WORDS = struct.Struct("<4I2I64sI")  # A, B, C, D, Nl, Nh, data, num
_SIZE = struct.Struct("<Q")


class _Sha256Context(ctypes.Structure):
    _fields_ = (
        ("h", ctypes.c_uint32 * 8),
        ("nl", ctypes.c_uint32),
        ("nh", ctypes.c_uint32),
        ("data", ctypes.c_ubyte * 64),
        ("num", ctypes.c_uint32),
        ("md_len", ctypes.c_uint32),
    )


class _Md5Context(ctypes.Structure):
    _fields_ = (
        ("state", ctypes.c_uint32 * 4),
        ("nl", ctypes.c_uint32),
        ("nh", ctypes.c_uint32),
        ("data", ctypes.c_ubyte * 64),
        ("num", ctypes.c_uint32),
    )


@functools.cache
def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        library = ctypes.CDLL(name)
        for function in ("SHA256_Init", "SHA256_Update", "SHA256_Final"):
            getattr(library, function)
        for function in ("MD5_Init", "MD5_Update", "MD5_Final"):
            getattr(library, function)
    except (OSError, AttributeError):
        return None
    return library


def resumable_hashes_available() -> bool:
    """Return True when OpenSSL's libcrypto (with the SHA256 and MD5 functions) was found."""
    return _library() is not None


def _required_library() -> ctypes.CDLL:
    library = _library()
    if library is None:
        raise RuntimeError("OpenSSL's libcrypto is not available for resumable hashes")
    return library


class ResumableHashes:
    """sha256 and md5 of one byte stream, continued across processes through :meth:`state`."""

    def __init__(self) -> None:
        """Start both hashes over no bytes. Raises RuntimeError without libcrypto."""
        self._library = _required_library()
        self._sha256 = _Sha256Context()
        self._md5 = _Md5Context()
        self._library.SHA256_Init(ctypes.byref(self._sha256))
        self._library.MD5_Init(ctypes.byref(self._md5))
        self.size_bytes = 0

    def update(self, data: Chunk) -> None:
        """Hash ``data`` after everything hashed so far."""
        size = len(data) if isinstance(data, bytes) else memoryview(data).nbytes
        if not size:
            return
        # bytes go as they are; another buffer (a Parquet part's memoryview) by its address,
        # without a copy, while ``view`` keeps it alive
        view = None if isinstance(data, bytes) else pa.py_buffer(data)
        pointer = data if view is None else ctypes.c_void_p(view.address)
        length = ctypes.c_size_t(size)
        self._library.SHA256_Update(ctypes.byref(self._sha256), pointer, length)
        self._library.MD5_Update(ctypes.byref(self._md5), pointer, length)
        self.size_bytes += size

    def state(self) -> bytes:
        """Return the state to continue from with :meth:`from_state` (about 200 bytes)."""
        sha256, md5 = self._sha256, self._md5
        return b"".join(
            (
                _FORMAT_TAG,
                _SIZE.pack(self.size_bytes),
                _SHA256_WORDS.pack(
                    *sha256.h, sha256.nl, sha256.nh, bytes(sha256.data), sha256.num, sha256.md_len
                ),
                _MD5_WORDS.pack(*md5.state, md5.nl, md5.nh, bytes(md5.data), md5.num),
            )
        )

    @classmethod
    def from_state(cls, state: bytes) -> ResumableHashes:
        """Return hashes continuing from a :meth:`state`. Raises ValueError for other bytes."""
        expected = len(_FORMAT_TAG) + _SIZE.size + _SHA256_WORDS.size + _MD5_WORDS.size
        if len(state) != expected or not state.startswith(_FORMAT_TAG):
            raise ValueError("not a saved hash state")
        hashes = cls()
        offset = len(_FORMAT_TAG)
        (hashes.size_bytes,) = _SIZE.unpack_from(state, offset)
        offset += _SIZE.size
        words = _SHA256_WORDS.unpack_from(state, offset)
        sha256 = hashes._sha256
        sha256.h[:] = words[:8]
        sha256.nl, sha256.nh = words[8], words[9]
        ctypes.memmove(sha256.data, words[10], 64)
        sha256.num, sha256.md_len = words[11], words[12]
        words = _MD5_WORDS.unpack_from(state, offset + _SHA256_WORDS.size)
        md5 = hashes._md5
        md5.state[:] = words[:4]
        md5.nl, md5.nh = words[4], words[5]
        ctypes.memmove(md5.data, words[6], 64)
        md5.num = words[7]
        return hashes

    def hexdigests(self) -> tuple[str, str]:
        """Return ``(sha256, md5)`` of the bytes hashed so far, in lowercase hex (the state is
        left as it was)."""
        sha256 = _Sha256Context.from_buffer_copy(self._sha256)
        md5 = _Md5Context.from_buffer_copy(self._md5)
        sha256_digest = ctypes.create_string_buffer(32)
        md5_digest = ctypes.create_string_buffer(16)
        self._library.SHA256_Final(sha256_digest, ctypes.byref(sha256))
        self._library.MD5_Final(md5_digest, ctypes.byref(md5))
        return sha256_digest.raw.hex(), md5_digest.raw.hex()
