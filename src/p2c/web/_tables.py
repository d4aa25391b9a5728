"""The admin center's table in the state database, on its own MetaData: its users.

Passwords are kept as argon2id hashes only. ``session_epoch`` goes up when a user's
password or role changes or the user is removed, which ends every session signed before.
"""

from __future__ import annotations

__all__ = ["open_web_tables", "user_table"]

import sqlalchemy as sa

from p2c.engine import UTCDateTime

metadata = sa.MetaData()
user_table = sa.Table(
    "web_user",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("session_epoch", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("password_changed_at", UTCDateTime, nullable=False),
    sa.Column("last_sign_in_at", UTCDateTime),
)


def open_web_tables(engine: sa.Engine) -> None:
    """Create the admin center's table where it is missing."""
    with engine.begin() as db:
        metadata.create_all(db)
