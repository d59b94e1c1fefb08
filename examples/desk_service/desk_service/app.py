"""The web API: a FastAPI application over servflow's ``Desk``.

Every request names its actor in the ``X-Actor`` header; the actors file maps the id to
servflow roles (it stands in for the host's real authentication, see actors.yaml). The
engine decides everything else: what the actor may do, with which data, when. A refused
step answers with the engine's reason as a problem document, and an HTTP status that says
what the client should do about it:

=====================  ======  ==============================================
reason                 status  the client should
=====================  ======  ==============================================
``stale_version``      409     reload the case (``current_version``) and retry
``not_in_state``       409     reload: the case moved on
``final_state``        409     stop: the case is closed
``forbidden``          403     ask someone with the role
``beyond_authority``   403     ask someone with a higher authority
``invalid_data``       422     fix ``field``
``guard_failed``       422     change the data so the rule holds
``unknown_trigger``    404     fix the URL
=====================  ======  ==============================================

Run it with ``python -m uvicorn desk_service.app:create_app --factory``; tests call
``create_app`` with settings and a clock of their own.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from desk_service.settings import ASSIGNEE_FIELDS, Directory, Settings
from servflow import Actor, Case, Desk, Engine, Event, Rejected
from servflow.errors import RejectionReason
from servflow.render.forms import FormError, Forms, render_template
from servflow.store import CaseNotFound, CaseQuery, SqlStore

MASK = "***"

STATUS: dict[str, int] = {
    "stale_version": 409,
    "not_in_state": 409,
    "final_state": 409,
    "forbidden": 403,
    "beyond_authority": 403,
    "invalid_data": 422,
    "guard_failed": 422,
    "unknown_trigger": 404,
}
"""The HTTP status of each rejection reason (a reason missing here is a test failure)."""


class Problem(BaseModel):
    """A refused request: the engine's reason, its message, and what failed."""

    reason: str = Field(description="servflow's rejection reason, or not_found / unauthorised")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    current_version: int | None = Field(
        default=None, description="For stale_version: the case's version now."
    )


class CaseView(BaseModel):
    """A case as the actor may see it: personal data masked unless their role sees it."""

    id: str
    procedure: str
    procedure_version: int
    state: str
    version: int
    data: dict[str, Any]
    opened_at: datetime
    updated_at: datetime
    escalation_level: int
    next_due: datetime | None


class EventView(BaseModel):
    seq: int
    at: datetime
    kind: str
    trigger: str | None
    actor: str | None
    role: str | None
    source: str | None
    target: str
    changes: dict[str, Any]
    time_limit: str | None


class AvailabilityView(BaseModel):
    trigger: str
    allowed: bool
    to: str | None
    reason: str | None
    message: str | None
    needs: list[str]


class PageView(BaseModel):
    cases: list[CaseView]
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class OpenCase(BaseModel):
    procedure: str
    data: dict[str, Any] = Field(default_factory=dict)
    case_id: str | None = None


class FireStep(BaseModel):
    data: dict[str, Any] = Field(default_factory=dict)
    expected_version: int | None = Field(
        default=None, description="The version the user saw: a stale one is refused (409)."
    )


REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no X-Actor header, or an actor nobody knows"},
    403: {"model": Problem, "description": "forbidden, beyond_authority"},
    404: {"model": Problem, "description": "no such case (not_found), unknown_trigger"},
    409: {"model": Problem, "description": "stale_version, not_in_state, final_state"},
    422: {"model": Problem, "description": "invalid_data, guard_failed (details.field)"},
}


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """The service: its own ``Desk`` on the store of ``settings`` (closed on shutdown)."""
    settings = settings or Settings.from_environment()
    engine = (
        Engine.from_directory(settings.procedures) if settings.procedures else Engine.standard()
    )
    store = SqlStore(settings.db, assignee_fields=ASSIGNEE_FIELDS)
    desk = Desk(engine, store)
    directory = Directory.load(settings.actors_file)
    forms = Forms(settings.procedures) if settings.procedures else Forms.standard()
    now = clock or (lambda: datetime.now(settings.timezone))
    open_states = sorted(
        {name for p in engine.procedures() for name, state in p.states.items() if not state.final}
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        title="servflow desk service",
        version="1",
        description=__doc__,
        lifespan=lifespan,
    )
    app.state.desk = desk

    def actor(x_actor: Annotated[str | None, Header()] = None) -> Actor:
        found = directory.actors.get(x_actor or "")
        if found is None:
            raise HTTPException(401, "unauthorised")
        return found

    Who = Annotated[Actor, Depends(actor)]

    def view(case: Case, who: Actor) -> CaseView:
        return CaseView(
            id=case.id,
            procedure=case.procedure,
            procedure_version=case.procedure_version,
            state=case.state,
            version=case.version,
            data=masked(case.procedure, case.procedure_version, case.data, who),
            opened_at=case.opened_at,
            updated_at=case.updated_at,
            escalation_level=case.escalation_level,
            next_due=case.next_due,
        )

    def masked(procedure: str, version: int, data: dict[str, Any], who: Actor) -> dict[str, Any]:
        if who.roles & directory.sees_personal_data:
            return dict(data)
        fields = engine.procedure(procedure, version).fields
        return {
            name: MASK if name in fields and fields[name].pii and value is not None else value
            for name, value in data.items()
        }

    def page(query: CaseQuery, who: Actor, limit: int, after: str | None) -> PageView:
        try:
            found = store.find(query, limit=limit, after=after)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return PageView(cases=[view(c, who) for c in found.cases], next=found.next)

    @app.exception_handler(Rejected)
    async def refused(_: Request, exc: Rejected) -> JSONResponse:
        body = Problem(reason=exc.reason, message=exc.message, details=exc.details)
        if exc.reason == "stale_version":
            body.current_version = exc.details.get("actual")
        return JSONResponse(body.model_dump(mode="json"), status_code=STATUS.get(exc.reason, 422))

    @app.exception_handler(CaseNotFound)
    async def missing(_: Request, exc: CaseNotFound) -> JSONResponse:
        body = Problem(reason="not_found", message=str(exc), details={"case": exc.case_id})
        return JSONResponse(body.model_dump(mode="json"), status_code=404)

    @app.exception_handler(HTTPException)
    async def http_problem(_: Request, exc: HTTPException) -> JSONResponse:
        reason = {401: "unauthorised", 400: "bad_request"}.get(exc.status_code, "error")
        body = Problem(reason=reason, message=str(exc.detail))
        return JSONResponse(body.model_dump(mode="json"), status_code=exc.status_code)

    @app.get("/procedures")
    def procedures(who: Who) -> list[dict[str, Any]]:
        """The procedures a case can be opened on, with their titles."""
        return [
            {"id": p.id, "version": p.version, "title": p.title}
            for p in sorted(engine.procedures(), key=lambda p: (p.id, p.version))
        ]

    @app.post("/cases", status_code=201, responses=REFUSALS)
    def open_case(body: OpenCase, who: Who) -> CaseView:
        """Open a case of a procedure (its start step)."""
        try:
            engine.procedure(body.procedure)
        except KeyError:
            raise HTTPException(404, f"no procedure {body.procedure!r}") from None
        case = desk.open(body.procedure, actor=who, data=body.data, at=now(), case_id=body.case_id)
        return view(case, who)

    @app.get("/cases/{case_id}", responses=REFUSALS)
    def get_case(case_id: str, who: Who) -> CaseView:
        return view(desk.load(case_id), who)

    @app.post("/cases/{case_id}/{trigger}", responses=REFUSALS)
    def fire(case_id: str, trigger: str, body: FireStep, who: Who) -> CaseView:
        """Fire a trigger: the engine checks roles, data, rules and time, or refuses."""
        case = desk.fire(
            case_id,
            trigger,
            actor=who,
            data=body.data,
            at=now(),
            expected_version=body.expected_version,
        )
        return view(case, who)

    @app.get("/cases/{case_id}/available", responses=REFUSALS)
    def available(case_id: str, who: Who) -> list[AvailabilityView]:
        """What the actor may do now, and why not where they may not."""
        return [
            AvailabilityView(
                trigger=a.trigger,
                allowed=a.allowed,
                to=a.to,
                reason=a.reason,
                message=a.message,
                needs=list(a.needs),
            )
            for a in desk.available(case_id, who, at=now())
        ]

    @app.get("/cases/{case_id}/history", responses=REFUSALS)
    def history(case_id: str, who: Who) -> list[EventView]:
        """The audit log, in order."""
        events: list[Event] = desk.history(case_id)
        return [
            EventView(
                seq=e.seq,
                at=e.at,
                kind=e.kind,
                trigger=e.trigger,
                actor=e.actor,
                role=e.role,
                source=e.source,
                target=e.target,
                changes=masked(e.procedure, e.procedure_version, e.changes, who),
                time_limit=e.time_limit,
            )
            for e in events
        ]

    @app.get("/cases/{case_id}/forms/{name}", response_class=HTMLResponse, responses=REFUSALS)
    def form(
        case_id: str,
        name: str,
        who: Who,
        lang: Literal["zh-Hant", "zh-Hans", "en"] = "zh-Hant",
    ) -> HTMLResponse:
        """A record form of the case (住戶報修記錄表, 維修任務單, ...) as a printable page,
        personal data shown only to the roles the procedure lets see it."""
        case = desk.load(case_id)
        try:
            page = render_template(engine, case, name, lang, viewer_roles=who.roles, forms=forms)
        except (FormError, KeyError) as exc:
            raise HTTPException(404, f"no form {name!r} for this case") from exc
        return HTMLResponse(page)

    @app.get("/queue", responses=REFUSALS)
    def queue(
        who: Who,
        field: Literal["technician", "callback_officer"] = "technician",
        order: Literal["due", "opened"] = "due",
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        after: str | None = None,
    ) -> PageView:
        """My queue: open cases whose `field` names me; `due` order leaves out cases with
        no running time limit."""
        query = CaseQuery(assignee=(field, who.id), states=open_states, order=order)
        return page(query, who, limit, after)

    @app.get("/overdue", responses=REFUSALS)
    def overdue(
        who: Who,
        procedure: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        after: str | None = None,
    ) -> PageView:
        """Cases with a running time limit already past its due time, most overdue first."""
        query = CaseQuery(procedure=procedure, due_before=now(), order="due")
        return page(query, who, limit, after)

    return app


def every_reason_has_a_status() -> bool:
    """Whether :data:`STATUS` maps every rejection reason servflow can give."""
    return set(get_args(RejectionReason)) <= set(STATUS)
