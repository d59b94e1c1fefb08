from __future__ import annotations

from functools import cache

from django.apps import AppConfig

from servflow import Desk, Engine


class DeskConfig(AppConfig):
    name = "desk"
    default_auto_field = "django.db.models.BigAutoField"


@cache
def desk() -> Desk:
    """The process's Desk: the standard procedures, cases in this app's tables."""
    from desk.store import DjangoStore

    return Desk(Engine.standard(), DjangoStore())
