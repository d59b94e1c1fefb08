"""Two views: open a repair, fire a trigger; a dispatch also writes the host's work order,
in the same database transaction as the case's step."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from desk.apps import desk
from desk.models import WorkOrder
from servflow import Actor, Case, Rejected

STATUS = {
    "stale_version": 409,
    "not_in_state": 409,
    "final_state": 409,
    "forbidden": 403,
    "beyond_authority": 403,
    "invalid_data": 422,
    "guard_failed": 422,
    "unknown_trigger": 404,
}


def _actor(request: HttpRequest) -> Actor | None:
    actor_id = request.headers.get("X-Actor", "")
    roles = settings.DESK_ACTORS.get(actor_id)
    return Actor(id=actor_id, roles=frozenset(roles)) if roles is not None else None


def _answer(case: Case, status: int = 200) -> JsonResponse:
    return JsonResponse(
        {"id": case.id, "state": case.state, "version": case.version}, status=status
    )


def _refused(exc: Rejected) -> JsonResponse:
    body: dict[str, Any] = {"reason": exc.reason, "message": exc.message, "details": exc.details}
    return JsonResponse(body, status=STATUS.get(exc.reason, 422))


def _body(request: HttpRequest) -> dict[str, Any]:
    parsed = json.loads(request.body or b"{}")
    return parsed if isinstance(parsed, dict) else {}


@csrf_exempt
@require_POST
def open_case(request: HttpRequest) -> JsonResponse:
    actor = _actor(request)
    if actor is None:
        return JsonResponse({"reason": "unauthorised"}, status=401)
    body = _body(request)
    try:
        case = desk().open(
            body.get("procedure", ""),
            actor=actor,
            data=body.get("data") or {},
            at=datetime.now().astimezone(),
            case_id=body.get("case_id"),
        )
    except Rejected as exc:
        return _refused(exc)
    return _answer(case, 201)


@csrf_exempt
@require_POST
def fire(request: HttpRequest, case_id: str, trigger: str) -> JsonResponse:
    actor = _actor(request)
    if actor is None:
        return JsonResponse({"reason": "unauthorised"}, status=401)
    body = _body(request)
    try:
        # One transaction: the case's step and the host's work order, or neither.
        with transaction.atomic():
            case = desk().fire(
                case_id,
                trigger,
                actor=actor,
                data=body.get("data") or {},
                at=datetime.now().astimezone(),
                expected_version=body.get("expected_version"),
            )
            if trigger == "dispatch":
                WorkOrder.objects.create(
                    number=body.get("work_order") or f"WO-{case.id}-{case.version}",
                    case_id=case.id,
                    technician=case.data["technician"],
                )
    except Rejected as exc:
        return _refused(exc)
    except IntegrityError:
        # The work order could not be written: the case's step was rolled back with it.
        return JsonResponse(
            {"reason": "conflict", "message": "that work order number is taken"}, status=409
        )
    return _answer(case)
