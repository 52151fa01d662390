"""FernetSecretCipher: encrypts access-key secrets at rest with the installation's key.

The vendors' signature schemes need the plaintext secret to recompute an HMAC, so a one-way hash
will not do; the secret is kept encrypted with Fernet (AES-128-CBC + HMAC-SHA256, authenticated)
under a per-installation key. The key is configured explicitly (every node of a scale-out
deployment needs the same one) or generated once in the data directory with mode 0600.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from logsluice.domain.errors import InvalidSettingsError

CIPHER_KEY_FILE_NAME = "access-key-cipher-key"


class FernetSecretCipher:
    """Implements :class:`logsluice.ports.SecretCipher` with a Fernet key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as error:
            raise InvalidSettingsError(
                "LOGSLUICE_ACCESS_KEY_CIPHER_KEY: not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from error

    def encrypt(self, plaintext: str) -> str:
        """Return ``plaintext`` encrypted, as ASCII text."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """Return the plaintext. Raises InvalidSettingsError when the key does not fit."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as error:
            raise InvalidSettingsError(
                "an access key's secret cannot be decrypted: this server's access-key cipher key "
                "is not the one the key was created with"
            ) from error


def load_or_create_cipher_key(path: Path) -> bytes:
    """Return the Fernet key stored at ``path``, creating it (mode 0600) when absent.

    Written to a private temporary file and hard-linked into place, so concurrent first starts
    agree on one key and nobody reads a half-written file.
    """
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(Fernet.generate_key())
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process won the race: everyone uses its key
    finally:
        temporary.unlink()
    return path.read_bytes().strip()
