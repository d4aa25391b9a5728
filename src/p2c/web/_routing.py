"""The router every page module of the admin center uses: CSRF checked on each unsafe
request, kept out of the REST API's OpenAPI document."""

from __future__ import annotations

__all__ = ["web_router"]

from fastapi import APIRouter, Depends

from p2c.web._security import check_csrf


def web_router() -> APIRouter:
    """A router whose every POST (PUT, PATCH, DELETE) is refused 403 without the session's
    CSRF token."""
    return APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
