"""Connection settings as a typed tree with a ``type`` discriminator (dlt style).

Each connection type names the connector that speaks to it. The sandbox is the embedded
default; the HTTP connection types (``dataverse``, ``finops``) are added beside it.
"""

from __future__ import annotations

__all__ = ["Connection", "SandboxConnection"]

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SandboxConnection(_Model):
    """A system of the local sandbox: a SQLite file, relative to the workspace."""

    type: Literal["sandbox"] = "sandbox"
    path: str


Connection = Annotated[SandboxConnection, Field(discriminator="type")]
