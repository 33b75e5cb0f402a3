"""API keys of the model server, and who may call which endpoint.

A key is ``nbk_<key id>_<secret>``. It is printed once, at creation; the catalog keeps
only the SHA-256 of the whole key (``api_keys``, migration 6). A key acts as its user,
whose governance role (``nbops roles grant``) decides what the key may do:

==========================================  =============
endpoint                                    least role
==========================================  =============
``GET /healthz``                            none, no key
predict, ``GET /v1/models``, ``/metrics``,  viewer
``/openapi.json``
``POST /v1/outcomes``                       contributor
==========================================  =============

Creating and revoking keys needs the admin role (``manage_api_keys``) and is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nbops.catalog.governance import GovernanceRepository
from nbops.catalog.serve import ApiKeyRow, ServeRepository
from nbops.config import current_user
from nbops.errors import NotFound
from nbops.governance.context import authorize_and_audit, current_grants
from nbops.governance.errors import PermissionDenied
from nbops.governance.identity import Action, Role, effective_role
from nbops.serve.errors import Unauthorized

if TYPE_CHECKING:
    from nbops.workspace import Workspace

PREFIX = "nbk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(ws: Workspace, user: str, *, note: str | None = None, actor: str | None = None) -> str:
    """A new key acting as ``user``; returns the key (shown once, stored only as a hash)."""
    who = actor or current_user()
    if not user or not user.strip():
        raise NotFound("a user name is required", hint="nbops serve keys create --user NAME")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
    row = ApiKeyRow(key_id, 1, user, hash_key(key), note, False, who, datetime.now(UTC))
    repo = ServeRepository(ws.catalog)

    def tx(con: Any) -> None:
        authorize_and_audit(ws.catalog, con, actor=who, action=Action.MANAGE_API_KEYS,
                            event="serve.key_create", target=f"api_key:{key_id}",
                            details={"user": user, "note": note})
        repo.add_key(con, row)

    ws.catalog.transaction(tx)
    return key


def revoke_key(ws: Workspace, key_id: str, *, actor: str | None = None) -> None:
    who = actor or current_user()
    repo = ServeRepository(ws.catalog)

    def tx(con: Any) -> None:
        cur = repo.key(con, key_id)
        if cur is None:
            raise NotFound(f"no API key {key_id!r}", hint="list them with `nbops serve keys list`")
        authorize_and_audit(ws.catalog, con, actor=who, action=Action.MANAGE_API_KEYS,
                            event="serve.key_revoke", target=f"api_key:{key_id}",
                            details={"user": cur.user_name})
        repo.add_key(con, replace(cur, revision=cur.revision + 1, revoked=True, changed_by=who,
                                  changed_at=datetime.now(UTC)))

    ws.catalog.transaction(tx)


class KeyRing:
    """Keys and role grants in memory, refreshed by the server's background thread.

    A key not yet in memory (created since the last refresh) triggers one refresh, at
    most once a second per key id, so new keys work at once and unknown ones cost little.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._keys: dict[str, ApiKeyRow] = {}
        self._grants: list[dict[str, Any]] = []
        self._creator: str | None = None
        self._lock = threading.Lock()
        self._misses: dict[str, float] = {}

    def refresh(self) -> None:
        keys = {k.key_id: k for k in ServeRepository(self.ws.catalog).active_keys()}
        grants, creator = current_grants(GovernanceRepository(self.ws.catalog), None)
        with self._lock:
            self._keys, self._grants, self._creator = keys, grants, creator

    def needs_refresh(self, key: str) -> bool:
        """True for a well-formed key not in memory, at most once a second per key id."""
        key_id = _key_id(key)
        if key_id is None or key_id in self._keys:
            return False
        now = time.monotonic()
        if now - self._misses.get(key_id, 0.0) < 1.0:
            return False
        if len(self._misses) > 10_000:
            self._misses.clear()
        self._misses[key_id] = now
        return True

    def user_of(self, key: str | None) -> str:
        if not key:
            raise Unauthorized("an API key is required",
                               hint="send 'Authorization: Bearer <key>'; create one with "
                                    "`nbops serve keys create --user NAME`")
        key_id = _key_id(key)
        row = self._keys.get(key_id) if key_id else None
        if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
            raise Unauthorized("unknown or revoked API key", hint="create one with `nbops serve keys create`")
        return row.user_name

    def require(self, user: str, need: Role, model: str | None, what: str) -> Role:
        have = effective_role(user, self._grants, model, self._creator)
        if have is None or have.rank < need.rank:
            held = f"{user} is {have}" if have else f"{user} has no role"
            raise PermissionDenied(f"{what} needs the {need} role; {held}", actor=user, action=what,
                                   hint="an admin can grant roles with `nbops roles grant`")
        return have


def _key_id(key: str) -> str | None:
    if not key.startswith(PREFIX):
        return None
    key_id, sep, _ = key[len(PREFIX):].partition("_")
    return key_id if sep else None
