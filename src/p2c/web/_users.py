"""Users of the admin center: names, roles and argon2id password hashes in the state
database; every change is written to the service's audit log with who made it."""

from __future__ import annotations

__all__ = ["ENTRA_PREFIX", "MIN_PASSWORD", "User", "UserStore"]

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from p2c._errors import ConfigError, NotFoundError
from p2c.service import ROLES, AccessStore, Role
from p2c.web._tables import open_web_tables, user_table

MIN_PASSWORD = 10
# Users who sign in with Microsoft Entra ID are named ``entra:<their user name>`` and have no
# password: the hash is a marker argon2 never accepts.
ENTRA_PREFIX = "entra:"
_NO_PASSWORD = "!entra"
_hasher = PasswordHasher()
# Verified against when the name is unknown, so that a wrong name takes as long as a wrong
# password and sign-in does not tell which names exist.
_DUMMY = _hasher.hash("not a password of anyone")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class User:
    """A user without the password hash."""

    name: str
    role: Role
    session_epoch: int
    created_at: datetime
    created_by: str
    last_sign_in_at: datetime | None

    def allows(self, role: Role) -> bool:
        """Whether this user's role is ``role`` or above (viewer < operator < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ConfigError(f"Unknown role {role!r}.", fix=f"use one of: {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(
            f"The password has {len(password)} characters; at least {MIN_PASSWORD} are needed.",
            fix="choose a longer password (a passphrase of a few words is good)",
        )


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 100 or name != name.strip():
        raise ConfigError(
            f"A user name needs 1 to 100 characters without spaces around: {name!r}.",
            fix="choose a name such as alice or alice@contoso.com",
        )
    if name.lower().startswith(ENTRA_PREFIX):
        raise ConfigError(
            f"A name that starts with {ENTRA_PREFIX!r} is an Entra ID user's: {name!r}.",
            fix="Entra ID users are added when they first sign in (admin_center.entra_id in "
            "p2c.yaml); choose another name for a user with a password",
        )


class UserStore:
    """The admin center's users in the state database of ``access``."""

    def __init__(self, access: AccessStore) -> None:
        self.access = access
        self.engine = access.engine
        open_web_tables(self.engine)

    def add(self, name: str, role: str, password: str, *, actor: str) -> User:
        """Add a user.

        Raises:
            ConfigError: the name is taken, the role unknown or the password too short.
        """
        _check_name(name)
        checked = _check_role(role)
        _check_password(password)
        now = _now()
        try:
            with self.engine.begin() as db:
                db.execute(
                    user_table.insert().values(
                        name=name,
                        role=checked,
                        password_hash=_hasher.hash(password),
                        session_epoch=0,
                        created_at=now,
                        created_by=actor,
                        password_changed_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            raise ConfigError(
                f"There is already a user named {name!r}.",
                fix="choose another name, or `p2c users set-password` for that user",
            ) from None
        self.access.audit(actor, "user.add", name, {"role": checked})
        return self.get(name)

    def users(self) -> list[User]:
        with self.engine.connect() as db:
            rows = db.execute(user_table.select().order_by(user_table.c.name)).all()
        return [_user(r) for r in rows]

    def find(self, name: str) -> User | None:
        with self.engine.connect() as db:
            row = db.execute(user_table.select().where(user_table.c.name == name)).first()
        return None if row is None else _user(row)

    def get(self, name: str) -> User:
        """The user of that name.

        Raises:
            NotFoundError: there is none.
        """
        user = self.find(name)
        if user is None:
            raise NotFoundError(
                f"There is no user named {name!r}.", fix="`p2c users list` lists them"
            )
        return user

    def remove(self, name: str, *, actor: str) -> None:
        """Remove a user: their sessions end at their next request.

        Raises:
            NotFoundError: there is no such user.
        """
        with self.engine.begin() as db:
            gone = db.execute(user_table.delete().where(user_table.c.name == name)).rowcount
        if not gone:
            raise NotFoundError(
                f"There is no user named {name!r}.", fix="`p2c users list` lists them"
            )
        self.access.audit(actor, "user.remove", name, {})

    def set_password(self, name: str, password: str, *, actor: str) -> None:
        """Change a password; the user's other sessions end.

        Raises:
            NotFoundError: no such user; ConfigError: the password is too short, or the
                user signs in with Entra ID.
        """
        if name.startswith(ENTRA_PREFIX):
            raise ConfigError(
                f"{name} signs in with Microsoft Entra ID and has no password here.",
                fix="change it in Entra ID",
            )
        _check_password(password)
        self._update(name, password_hash=_hasher.hash(password), password_changed_at=_now())
        self.access.audit(actor, "user.set-password", name, {})

    def set_role(self, name: str, role: str, *, actor: str) -> None:
        """Give a user another role; their sessions end (they sign in again).

        Raises:
            NotFoundError: no such user; ConfigError: unknown role.
        """
        checked = _check_role(role)
        self._update(name, role=checked)
        self.access.audit(actor, "user.set-role", name, {"role": checked})

    def _update(self, name: str, **values: object) -> None:
        with self.engine.begin() as db:
            changed = db.execute(
                user_table.update()
                .where(user_table.c.name == name)
                .values(**values, session_epoch=user_table.c.session_epoch + 1)
            ).rowcount
        if not changed:
            raise NotFoundError(
                f"There is no user named {name!r}.", fix="`p2c users list` lists them"
            )

    def sign_in_entra(self, username: str, role: str) -> User:
        """The Entra ID user ``entra:<username>``, signed in now with ``role``: added at the
        first sign-in, given the role p2c.yaml names now (their older sessions end when it
        changed). Each change is in the audit log as made by ``entra``.

        Raises:
            ConfigError: the role is unknown, or the name too long.
        """
        name = ENTRA_PREFIX + username
        checked = _check_role(role)
        if len(name) > 100:
            raise ConfigError(f"The Entra ID user name {username!r} is too long.")
        now = _now()
        found = self.find(name)
        if found is None:
            try:
                with self.engine.begin() as db:
                    db.execute(
                        user_table.insert().values(
                            name=name,
                            role=checked,
                            password_hash=_NO_PASSWORD,
                            session_epoch=0,
                            created_at=now,
                            created_by="entra",
                            password_changed_at=now,
                        )
                    )
                self.access.audit("entra", "user.add", name, {"role": checked})
            except sa.exc.IntegrityError:
                found = self.find(name)  # a sign-in of the same user at the same moment
        if found is not None and found.role != checked:
            self.set_role(name, checked, actor="entra")
        with self.engine.begin() as db:
            db.execute(
                user_table.update().where(user_table.c.name == name).values(last_sign_in_at=now)
            )
        return self.get(name)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is theirs, else None (in the same time either way)."""
        with self.engine.connect() as db:
            row = db.execute(user_table.select().where(user_table.c.name == name)).first()
        stored = row.password_hash if row is not None else _DUMMY
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        with self.engine.begin() as db:
            values: dict[str, object] = {"last_sign_in_at": _now()}
            if _hasher.check_needs_rehash(stored):
                values["password_hash"] = _hasher.hash(password)
            db.execute(user_table.update().where(user_table.c.id == row.id).values(**values))
        return _user(row)


def _user(row: sa.Row[object]) -> User:
    return User(
        row.name,
        _check_role(row.role),
        row.session_epoch,
        row.created_at,
        row.created_by,
        row.last_sign_in_at,
    )
