"""The admin center in-process for fast tests: FastAPI's TestClient over the service's app
with the pages mounted, users of each role, and sign-in through the form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from web_world import PASSWORD, USERS

from p2c.service import Service, build_api
from p2c.web import mount_web

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


@dataclass
class Web:
    service: Service
    client: TestClient

    def sign_in(self, name: str, password: str = PASSWORD) -> Any:
        form = self.client.get("/sign-in")
        return self.client.post(
            "/sign-in",
            data={"name": name, "password": password, "csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )

    def token(self, path: str = "/") -> str:
        """The CSRF token of the session, from a page."""
        return csrf_of(self.client.get(path).text)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """A form post with the session's CSRF token."""
        body = {"csrf_token": self.token(), **(data or {})}
        return self.client.post(path, data=body, follow_redirects=False, **kwargs)


def make_web(root: Path, **options: Any) -> Web:
    service = Service(root)
    app = mount_web(build_api(service), service, **options)
    for name, role in USERS.items():
        if app.state.web_users.find(name) is None:
            app.state.web_users.add(name, role, PASSWORD, actor="test")
    return Web(service, TestClient(app, base_url="http://testserver"))
