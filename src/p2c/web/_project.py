"""Pages of the admin center (being built)."""

from __future__ import annotations

__all__ = ["router"]

from p2c.web._routing import web_router

router = web_router()
