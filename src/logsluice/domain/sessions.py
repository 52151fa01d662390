"""Console sessions: who signed in to the web console, until when, and whether they signed out.

A session is created when someone signs in with a credential the API accepts (the admin token, or
an access key); it acts with that credential's role and project scope and nothing more. It ends at
``expires_at`` or when revoked (sign-out). A session opened with an access key also ends when the
key is revoked: the authenticator checks the key on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SessionIdentity:
    """Who a session acts as: a principal's name, role (``admin``, ``writer``, ``reader``),
    project scope (None: every project) and the access key it came from, if any."""

    name: str
    role: str
    project: str | None = None
    access_key_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConsoleSession:
    """A stored session: its opaque id, identity, times and revocation."""

    id: str
    identity: SessionIdentity
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        """Tell whether the session still counts at ``now``: not revoked and not expired."""
        return self.revoked_at is None and now < self.expires_at
