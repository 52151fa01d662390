"""Access-key use cases: create (secret shown once), list, revoke, and the lookups the vendor
signature verifiers and the bearer-token authenticator need.

An access key is an AK/SK pair bound to one project with a role (``reader``, ``writer``) or to every
project (``admin``). The secret is random, returned only by :meth:`AccessKeyService.create`, stored
encrypted through the injected :class:`~logsluice.ports.SecretCipher`, and never logged.
"""

from __future__ import annotations

import hmac
import secrets
import string

from logsluice.domain.access_keys import AccessKey, AccessKeyRole, check_binding, parse_role
from logsluice.domain.errors import (
    AccessKeyNotFoundError,
    AuthenticationError,
    ProjectNotFoundError,
)
from logsluice.ports import AccessKeyStore, CatalogStore, Clock, SecretCipher

ACCESS_KEY_ID_PREFIX = "LSAK"
_ID_ALPHABET = string.ascii_uppercase + string.digits
_ID_RANDOM_CHARACTERS = 16
_SECRET_ALPHABET = string.ascii_letters + string.digits
_SECRET_CHARACTERS = 40


def new_access_key_id() -> str:
    """Return a fresh id: ``LSAK`` + 16 random upper-case letters and digits (20 characters).

    Letters and digits only, so the id fits every vendor's Authorization syntax (``/``, ``:``
    and ``,`` are separators there).
    """
    return ACCESS_KEY_ID_PREFIX + "".join(
        secrets.choice(_ID_ALPHABET) for _ in range(_ID_RANDOM_CHARACTERS)
    )


def new_secret() -> str:
    """Return a fresh secret: 40 random letters and digits (about 238 bits)."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(_SECRET_CHARACTERS))


class AccessKeyService:
    """Creates, lists and revokes access keys and resolves them for authentication."""

    def __init__(
        self,
        *,
        access_key_store: AccessKeyStore,
        catalog_store: CatalogStore,
        cipher: SecretCipher,
        clock: Clock,
    ) -> None:
        self._store = access_key_store
        self._catalog_store = catalog_store
        self._cipher = cipher
        self._clock = clock

    def create(
        self, project: str | None, role: AccessKeyRole | str, *, description: str = ""
    ) -> tuple[AccessKey, str]:
        """Create a key and return it with its secret, which is not retrievable afterwards.

        ``project`` must be None for an ``admin`` key and an existing project otherwise. Raises
        InvalidInputError (bad role or binding), InvalidNameError, ProjectNotFoundError.
        """
        checked_role = parse_role(role)
        checked_project = check_binding(project, checked_role)
        generation = None
        if checked_project is not None:
            generation = self._catalog_store.get_project(checked_project).generation
        access_key = AccessKey(
            project_generation=generation,
            id=new_access_key_id(),
            project=checked_project,
            role=checked_role,
            created_at=self._clock.now(),
            description=description,
        )
        secret = new_secret()
        self._store.create_access_key(access_key, self._cipher.encrypt(secret))
        return access_key, secret

    def list(self, *, project: str | None = None, include_revoked: bool = False) -> list[AccessKey]:
        """Return the keys (only ``project``'s when given), oldest first, without secrets."""
        return self._store.list_access_keys(project=project, include_revoked=include_revoked)

    def revoke(self, access_key_id: str) -> AccessKey:
        """Revoke the key at once: it verifies nothing from now on. Revoking twice is harmless.

        Returns the revoked key. Raises AccessKeyNotFoundError.
        """
        return self._store.revoke_access_key(access_key_id, now=self._clock.now())

    def resolve(self, access_key_id: str) -> AccessKey:
        """Return the key (``revoked`` tells whether it still counts).

        Raises AccessKeyNotFoundError for an unknown id.
        """
        access_key, _ = self._store.get_access_key(access_key_id)
        return access_key

    def secret_for(self, access_key_id: str) -> str | None:
        """Return the plaintext secret of a live key; None for an unknown or revoked key.

        This is the ``lookup_secret`` the vendor signature verifiers take.
        """
        try:
            access_key, ciphertext = self._store.get_access_key(access_key_id)
        except AccessKeyNotFoundError:
            return None
        if access_key.revoked or not self._of_current_project(access_key):
            return None
        return self._cipher.decrypt(ciphertext)

    def _of_current_project(self, access_key: AccessKey) -> bool:
        """Tell whether the key's project still exists as the generation it was made for.

        A project deleted and created again under the same name is another generation: the old
        project's keys reach nothing, even if a revoke was missed.
        """
        if access_key.project is None:
            return True
        try:
            project = self._catalog_store.get_project(access_key.project)
        except ProjectNotFoundError:
            return False
        return project.generation == access_key.project_generation

    def verify_secret(self, access_key_id: str, secret: str) -> AccessKey:
        """Return the live key whose secret is ``secret`` (compared in constant time).

        Raises AccessKeyNotFoundError for an unknown or revoked key, AuthenticationError for a
        wrong secret.
        """
        expected = self.secret_for(access_key_id)
        if expected is None:
            raise AccessKeyNotFoundError(
                "unknown or revoked access key", access_key_id=access_key_id
            )
        if not hmac.compare_digest(expected.encode("utf-8"), secret.encode("utf-8")):
            raise AuthenticationError("the access key secret is not valid")
        return self.resolve(access_key_id)
