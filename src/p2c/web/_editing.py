"""The editing pages of the admin center, over the p2c.yaml editing library
(`p2c.config.ConfigEditor`): **New project** from a template, the **mapping editor** (select
the arrow between a source and a destination field), the task's filter, **Save as
template**, and the Scheduling tab's recurrence and notification recipients.

Every edit goes the same way: the form's "Show the change" (htmx) answers with the diff of
p2c.yaml, or the problems the checks of p2c.yaml find in it (nothing is written); "Save"
posts the form again with the digest of the file the diff was made from and of the text
it shows, and writes only that text, only onto that file. Admins only; each save is in the
audit log (``config.edit``, who, what, the file's digests)."""

from __future__ import annotations

__all__ = ["router"]

from typing import Any
from urllib.parse import quote

from fastapi import Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from p2c._errors import ConfigError, NotFoundError, P2CError
from p2c.config import ConfigChange, ConfigChanged, ConfigEditor
from p2c.service import Service
from p2c.templates import Leg
from p2c.web._edit_forms import FieldForm, Posted, change_of
from p2c.web._mapping import task_views
from p2c.web._render import flash, render
from p2c.web._routing import web_router
from p2c.web._security import Admin, service_of
from p2c.web._users import User

router = web_router()
TIMEZONES = ("UTC", "Europe/London", "Europe/Oslo", "Europe/Stockholm", "America/New_York")
NOTIFY_ON = ("completed", "warning", "error", "cancelled")
FUNCTIONS = ("upper", "lower", "trim", "truncate", "concat")


def _project_path(name: str, tab: str = "") -> str:
    return f"/projects/{quote(name, safe='')}" + (f"/{tab}" if tab else "")


def _editor(service: Service, expect: str | None = None) -> ConfigEditor:
    return ConfigEditor.open(service.ws.root, expect=expect)


async def _posted(request: Request) -> Posted:
    return Posted.of(list((await request.form()).multi_items()))


def _change_context(change: ConfigChange) -> dict[str, object]:
    return {
        "change": change,
        "diff": change.diff().splitlines()[2:],
        "digest": change.digest or "",
        "proposal": change.proposal,
    }


# Showing a change ---------------------------------------------------------------------------


def _preview(request: Request, project: str | None, posted: Posted) -> Response:
    """The diff of the change a form asks for, or what refuses it (a fragment)."""
    service = service_of(request)
    context: dict[str, object] = {"form_id": posted.get("form") or "edit-form"}
    try:
        change = change_of(_editor(service), project, posted, _webhook(service, project))
    except P2CError as error:
        context.update(refused=error, change=None)
        return render(request, "editor/_change.html", context)
    context.update(refused=change.error, **_change_context(change))
    return render(request, "editor/_change.html", context)


def _webhook(service: Service, project: str | None) -> str | None:
    """A project's webhook, kept by the scheduling form (which does not show it)."""
    if project is None:
        return None
    notify = service.ws.project(project).notify
    return notify.webhook if notify else None


@router.post("/projects/new/preview", name="new_project_preview")
async def new_project_preview(request: Request, _user: Admin) -> Response:
    return _preview(request, None, await _posted(request))


@router.post("/projects/{name}/edit/preview", name="edit_preview")
async def edit_preview(request: Request, name: str, _user: Admin) -> Response:
    service_of(request).ws.project(name)
    return _preview(request, name, await _posted(request))


# Saving a change ----------------------------------------------------------------------------


def _save(request: Request, user: User, project: str | None, posted: Posted) -> Response:
    """Save the change a form asks for, if it is the one its diff showed; else a page that
    shows the change (with Save) or why it is refused, and writes nothing."""
    service = service_of(request)
    digest, proposal = posted.get("digest"), posted.get("proposal")
    back = _local(posted.get("next")) or (_project_path(project) if project else "/projects")
    try:
        editor = _editor(service, expect=digest or None)
        change = change_of(editor, project, posted, _webhook(service, project))
    except ConfigChanged as changed:
        return _refused(request, changed, posted, back, status=409)
    except P2CError as error:
        return _refused(request, error, posted, back, status=400)
    if change.error is not None:
        return _refused(request, change.error, posted, back, status=400, change=change)
    if not proposal or proposal != change.proposal:
        # No diff was shown for this text (no JavaScript, or the form changed since).
        context = {**_change_context(change), "refused": None, "posted": posted, "back": back}
        return render(request, "editor/confirm.html", context)
    try:
        change.save()
    except ConfigError as error:
        return _refused(request, error, posted, back, status=409)
    service.access.audit(
        f"web:{user.name}",
        "config.edit",
        change.name,
        {"summary": change.summary, "before": change.digest, "after": change.proposal},
    )
    service.reload()
    flash(request, f"Saved {change.name}: {change.summary}.", "ok")
    if posted.get("op") == "new":
        back = _project_path(posted.get("name"))
    return RedirectResponse(back, status_code=303)


def _local(path: str) -> str:
    """A page of this site to go back to (never another site's: ``//host``, ``https:``)."""
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else ""


def _refused(
    request: Request,
    error: P2CError,
    posted: Posted,
    back: str,
    *,
    status: int,
    change: ConfigChange | None = None,
) -> Response:
    context: dict[str, object] = {"refused": error, "posted": posted, "back": back}
    context.update(_change_context(change) if change is not None else {"change": None})
    return render(request, "editor/confirm.html", context, status_code=status)


@router.post("/projects/new", name="new_project_save")
async def new_project_save(request: Request, user: Admin) -> Response:
    return _save(request, user, None, await _posted(request))


@router.post("/projects/{name}/edit", name="edit_save")
async def edit_save(request: Request, name: str, user: Admin) -> Response:
    service_of(request).ws.project(name)
    return _save(request, user, name, await _posted(request))


# The pages ----------------------------------------------------------------------------------


@router.get("/projects/new", name="new_project")
def new_project(request: Request, _user: Admin) -> Response:
    """New project: a template, a connection set, the organization mapping."""
    ws = service_of(request).ws
    templates = sorted(ws.templates.all().values(), key=lambda t: (t.generation, t.name))
    sets = [
        (
            name,
            [(m.business_unit, m.legal_entity) for m in connections.organizations],
            connections.cds is not None,
        )
        for name, connections in ws.config.connection_sets.items()
    ]
    context = {"active": "projects", "templates": templates, "sets": sets}
    return render(request, "editor/new_project.html", context)


def _leg_of(request: Request, name: str, task: str, leg: str | None) -> dict[str, Any]:
    """The task, the leg (its last unless ``leg`` names another) and its rows as the project
    page shows them."""
    ws = service_of(request).ws
    project = ws.project(name)
    effective = project.effective_template(ws.templates)
    tasks = {t.name: t for t in effective.tasks}
    if task not in tasks:
        raise NotFoundError(
            f"Project {name!r} has no task {task!r}.", fix=f"use one of: {', '.join(tasks)}"
        )
    legs = {each.name: each for each in tasks[task].legs}
    chosen = legs.get(leg or "") or tasks[task].legs[-1]
    try:
        base = ws.templates.get(project.template)
    except P2CError:
        base = None
    (view,) = [t for t in task_views(effective, base) if t.name == task]
    (leg_view,) = [v for v in view.legs if v.name == chosen.name]
    return {
        "project": project,
        "task": tasks[task],
        "leg": chosen,
        "view": leg_view,
        "base": _project_path(name),
        "functions": FUNCTIONS,
    }


@router.get("/projects/{name}/tasks/{task}/mapping", name="edit_mapping")
def edit_mapping(
    request: Request,
    name: str,
    task: str,
    _user: Admin,
    leg: str | None = Query(None, max_length=200),
    field: str | None = Query(None, max_length=200),
) -> Response:
    """The mapping editor of a task's leg; with ``field``, that field's form open."""
    context = _leg_of(request, name, task, leg)
    chosen: Leg = context["leg"]
    context["active"] = "projects"
    context["field"] = FieldForm.of(field, chosen.map.get(field)) if field else None
    return render(request, "editor/mapping.html", context)


@router.get("/projects/{name}/tasks/{task}/mapping/field", name="edit_field")
def edit_field(
    request: Request,
    name: str,
    task: str,
    _user: Admin,
    field: str = Query(..., max_length=200),
    leg: str | None = Query(None, max_length=200),
) -> Response:
    """The form of one destination field (htmx fills the editor's panel with it)."""
    context = _leg_of(request, name, task, leg)
    chosen: Leg = context["leg"]
    context["field"] = FieldForm.of(field, chosen.map.get(field))
    return render(request, "editor/_field_form.html", context)


@router.get("/projects/{name}/scheduling/edit", name="edit_schedule")
def edit_schedule(request: Request, name: str, _user: Admin) -> Response:
    """The Scheduling tab's recurrence and notification recipients."""
    project = service_of(request).ws.project(name)
    context = {
        "active": "projects",
        "project": project,
        "base": _project_path(name),
        "timezones": TIMEZONES,
        "notify_on": NOTIFY_ON,
    }
    return render(request, "editor/schedule.html", context)


@router.get("/projects/{name}/save-as-template", name="save_template")
def save_template(request: Request, name: str, _user: Admin) -> Response:
    """Save as template: the project's template with its changes, under a new name."""
    project = service_of(request).ws.project(name)
    context = {"active": "projects", "project": project, "base": _project_path(name)}
    return render(request, "editor/save_template.html", context)
