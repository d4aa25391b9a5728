"""The editing pages of the admin center: the slot for them.

Built on the ``edit`` branch over the p2c.yaml editing library: **New project** from a
template (route name ``new_project``, ``GET /projects/new``: the Projects page shows its
button in the upper right once the route exists), the mapping editor of the project page
with the diff of p2c.yaml before saving, **Save as template**, and editing the Scheduling
tab's recurrence and recipients. Add the routes to ``router`` below; the project page
links to routes by name (``has_route(name)`` in a template) where they exist.
"""

from __future__ import annotations

__all__ = ["router"]

from p2c.web._routing import web_router

router = web_router()
