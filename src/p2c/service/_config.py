"""The service's keys in ``p2c.yaml``: a project's ``schedule`` and ``notify``, the workspace's
``notifications``, ``alerts`` and ``admin_center`` (Entra ID sign-in).

Like every p2c.yaml model these forbid unknown keys, so a typo is an error with its line.
"""

from __future__ import annotations

__all__ = [
    "AdminCenter",
    "Alerts",
    "EntraId",
    "Notifications",
    "Notify",
    "NotifyOn",
    "PauseAfter",
    "Schedule",
    "Smtp",
]

import re
from datetime import timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_EVERY = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")

NotifyOn = Literal["completed", "warning", "error", "cancelled"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _on_key(data: Any) -> Any:
    """YAML 1.1 reads a bare ``on`` key as the boolean true: give it its name back."""
    if isinstance(data, dict) and True in data:
        data = {("on" if k is True else k): v for k, v in data.items()}
    return data


class Schedule(_Model):
    """When a project runs by itself, as the Data Integrator's "recur every".

    ``every: 15m`` (s, m, h, d or w) runs at whole multiples of the interval since
    1970-01-01 UTC (:00, :15, :30, :45); ``cron: "0 */2 * * *"`` with a ``timezone``
    (default UTC) for times of day. ``paused: true`` holds the schedule.
    """

    every: str | None = None
    cron: str | None = None
    timezone: str = "UTC"
    paused: bool = False

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _EVERY.match(value)
        if not match or int(match.group(1)) < 1:
            raise ValueError(
                f"{value!r} is not an interval: a whole number and a unit s, m, h, d or w "
                "(15m, 2h, 1d)"
            )
        return f"{int(match.group(1))}{match.group(2)}"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (minute hour day month weekday)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (Europe/Oslo, UTC)") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError('give either `every` (15m) or `cron` ("0 */2 * * *"), not both')
        if self.every is not None and self.timezone != "UTC":
            raise ValueError("`timezone` goes with `cron`; `every` counts in UTC")
        return self

    @property
    def interval(self) -> timedelta | None:
        """The interval of ``every``; None for a cron schedule."""
        if self.every is None:
            return None
        return timedelta(seconds=int(self.every[:-1]) * _UNIT[self.every[-1]])

    def describe(self) -> str:
        if self.every is not None:
            return f"every {self.every}"
        return f"cron {self.cron} ({self.timezone})"


class Notify(_Model):
    """Who hears of a project's runs: a mail per run that ends with a status in ``on``, to
    each address of ``email``, and the same as JSON to ``webhook``."""

    on: list[NotifyOn] = ["warning", "error"]
    email: list[str] = []
    webhook: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        return _on_key(data)

    @field_validator("on", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v.lower() if isinstance(v, str) else v for v in value]
        return value

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _ADDRESS.match(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @field_validator("webhook")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class Smtp(_Model):
    """The mail server. The password is read from the environment variable named by
    ``password_env``, never from p2c.yaml."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None
    sender: str
    timeout: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        address = value.rsplit("<", 1)[-1].rstrip(">").strip()
        if not _ADDRESS.match(address):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class Notifications(_Model):
    """Workspace-wide: the mail server, and the base URL of the drill-through link
    (``link`` + ``/runs/{id}``)."""

    smtp: Smtp | None = None
    link: str | None = None

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else value


class PauseAfter(_Model):
    """Pause a project's schedule once it has ``errors`` errors within ``minutes``."""

    errors: Annotated[int, Field(ge=1)]
    minutes: Annotated[int, Field(ge=1)]


class Alerts(_Model):
    """Workspace-wide threshold alerts."""

    pause_after: PauseAfter | None = None


_SignInRole = Literal["viewer", "operator", "admin"]
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")


class EntraId(_Model):
    """Sign-in to the admin center with Microsoft Entra ID (OpenID Connect, authorization
    code flow with PKCE) for the app registration ``client_id`` of ``tenant``; who may sign
    in, and with which role, by user name (``preferred_username``, else ``email``) or by
    group object id (the id token's ``groups``). The client secret comes from the
    environment variable ``client_secret_env``, never from p2c.yaml."""

    tenant: str
    client_id: str
    client_secret_env: str = "P2C_ENTRA_CLIENT_SECRET"
    authority: str = "https://login.microsoftonline.com"
    redirect_uri: str | None = None
    users: dict[str, _SignInRole] = {}
    groups: dict[str, _SignInRole] = {}

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str) -> str:
        if not _TENANT.match(value):
            raise ValueError(f"{value!r} is not a tenant id (a GUID) or domain")
        return value

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not _GUID.match(value):
            raise ValueError(f"{value!r} is not an application (client) id, a GUID")
        return value

    @field_validator("authority", "redirect_uri")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else value

    @field_validator("users")
    @classmethod
    def _names(cls, value: dict[str, _SignInRole]) -> dict[str, _SignInRole]:
        return {name.strip().lower(): role for name, role in value.items()}

    @model_validator(mode="after")
    def _someone(self) -> EntraId:
        if not self.users and not self.groups:
            raise ValueError("entra_id needs users or groups: who may sign in, and with which role")
        return self

    def role_of(self, name: str | None, groups: list[str]) -> _SignInRole | None:
        """The highest role the user's name or groups give, or None: not allowed in."""
        found: list[_SignInRole] = []
        if name and name.strip().lower() in self.users:
            found.append(self.users[name.strip().lower()])
        found.extend(self.groups[g] for g in groups if g in self.groups)
        order = ("viewer", "operator", "admin")
        return max(found, key=order.index) if found else None


class AdminCenter(_Model):
    """The admin center's settings: Entra ID sign-in, beside its own users."""

    entra_id: EntraId | None = None
