"""API tokens and the audit log.

A token is ``secrets.token_urlsafe(32)`` (256 random bits), shown once; only its sha256 is
stored. With that much entropy a fast hash is as good as a slow one, and it lets a request
be checked with one indexed lookup. Every write through the API or the command line is
recorded in the audit log with who made it.
"""

from __future__ import annotations

__all__ = ["ROLES", "AccessStore", "AuditEntry", "Role", "TokenInfo"]

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from p2c._errors import ConfigError, NotFoundError
from p2c.service._tables import audit_table, token_table

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
_CACHE_SECONDS = 5.0  # a revoked token stops working within this long in a running service
_TOUCH_SECONDS = 60.0  # last_used_at is written at most this often per token


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A token without its secret."""

    name: str
    role: Role
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    def allows(self, role: Role) -> bool:
        """Whether this token's role is ``role`` or above."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]


class AccessStore:
    """Tokens and the audit log in the state database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._cache: dict[str, tuple[float, TokenInfo | None, str]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    # tokens ---------------------------------------------------------------------------------

    def create_token(self, name: str, role: Role, *, actor: str) -> str:
        """Make a token and return it: the only time it is seen.

        Raises:
            ConfigError: a token of that name exists, or the role is unknown.
        """
        if role not in ROLES:
            raise ConfigError(f"Unknown role {role!r}.", fix=f"use one of: {', '.join(ROLES)}")
        if not name.strip() or len(name) > 100:
            raise ConfigError("A token needs a name of 1 to 100 characters.")
        token = secrets.token_urlsafe(32)
        try:
            with self.engine.begin() as db:
                db.execute(
                    token_table.insert().values(
                        name=name,
                        role=role,
                        digest=_digest(token),
                        created_at=_now(),
                        created_by=actor,
                    )
                )
                self._audit(db, actor, "token.create", name, {"role": role})
        except sa.exc.IntegrityError:
            raise ConfigError(
                f"There is already a token named {name!r}.",
                fix="choose another name, or revoke that one first",
            ) from None
        return token

    def tokens(self) -> list[TokenInfo]:
        with self.engine.connect() as db:
            rows = db.execute(token_table.select().order_by(token_table.c.name)).all()
        return [_info(r) for r in rows]

    def revoke_token(self, name: str, *, actor: str) -> None:
        """Revoke a token; its name can then be used again.

        Raises:
            NotFoundError: there is no live token of that name.
        """
        with self.engine.begin() as db:
            row = db.execute(
                token_table.select().where(
                    token_table.c.name == name, token_table.c.revoked_at.is_(None)
                )
            ).first()
            if row is None:
                raise NotFoundError(
                    f"There is no token named {name!r}.", fix="`p2c tokens list` lists them"
                )
            # Renamed so that the name is free; the row stays for the audit trail.
            db.execute(
                token_table.update()
                .where(token_table.c.id == row.id)
                .values(revoked_at=_now(), name=f"{name} (revoked {row.id})")
            )
            self._audit(db, actor, "token.revoke", name, {})
        with self._lock:
            self._cache.clear()

    def verify(self, token: str) -> TokenInfo | None:
        """The token's holder, or None for an unknown or revoked token."""
        digest = _digest(token)
        moment = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is None or moment - cached[0] > _CACHE_SECONDS:
            with self.engine.connect() as db:
                row = db.execute(token_table.select().where(token_table.c.digest == digest)).first()
            info = _info(row) if row is not None and row.revoked_at is None else None
            stored = row.digest if row is not None else ""
            cached = (moment, info, stored)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = cached
        _, info, stored = cached
        # Constant time, whatever the lookup found.
        if not hmac.compare_digest(stored.encode(), digest.encode()) or info is None:
            return None
        self._touch(info.name, digest, moment)
        return info

    def _touch(self, name: str, digest: str, moment: float) -> None:
        with self._lock:
            if moment - self._touched.get(digest, -_TOUCH_SECONDS) < _TOUCH_SECONDS:
                return
            self._touched[digest] = moment
        with self.engine.begin() as db:
            db.execute(
                token_table.update()
                .where(token_table.c.digest == digest)
                .values(last_used_at=_now())
            )

    # audit ----------------------------------------------------------------------------------

    def audit(
        self, actor: str, action: str, target: str | None, detail: dict[str, Any] | None = None
    ) -> None:
        """Record a write: who did what to what."""
        with self.engine.begin() as db:
            self._audit(db, actor, action, target, detail or {})

    def _audit(
        self,
        db: sa.Connection,
        actor: str,
        action: str,
        target: str | None,
        detail: dict[str, Any],
    ) -> None:
        db.execute(
            audit_table.insert().values(
                at=_now(),
                actor=actor,
                action=action,
                target=target,
                detail=json.dumps(detail, default=str, sort_keys=True),
            )
        )

    def audit_log(self, limit: int = 100, before: int | None = None) -> list[AuditEntry]:
        query = audit_table.select().order_by(audit_table.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(audit_table.c.id < before)
        with self.engine.connect() as db:
            return [
                AuditEntry(r.id, r.at, r.actor, r.action, r.target, json.loads(r.detail or "{}"))
                for r in db.execute(query)
            ]


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        row.name, row.role, row.created_at, row.created_by, row.last_used_at, row.revoked_at
    )
