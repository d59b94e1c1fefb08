"""The service's configuration: environment variables, and the actors file.

==================  ===========================================  ==========================
variable            meaning                                      default
==================  ===========================================  ==========================
DESK_DB             the store's SQLAlchemy URL                   ``sqlite:///desk.db``
DESK_PROCEDURES     a folder of procedure files                  the standard catalogue
DESK_ACTORS         the actors file (ids -> roles)               ``actors.yaml`` beside it
DESK_TIMEZONE       the zone of times the service prints         ``Asia/Shanghai``
==================  ===========================================  ==========================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from servflow import Actor

HERE = Path(__file__).resolve().parent.parent

#: The fields "my queue" can be asked about: they hold the id of the person a case is
#: assigned to. Recorded in the database by the store (see servflow's docs/storage.md).
ASSIGNEE_FIELDS = ("technician", "callback_officer")


@dataclass(frozen=True)
class Settings:
    db: str = "sqlite:///desk.db"
    procedures: Path | None = None
    actors_file: Path = HERE / "actors.yaml"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            db=env.get("DESK_DB", "sqlite:///desk.db"),
            procedures=Path(env["DESK_PROCEDURES"]) if env.get("DESK_PROCEDURES") else None,
            actors_file=Path(env.get("DESK_ACTORS", HERE / "actors.yaml")),
            timezone=ZoneInfo(env.get("DESK_TIMEZONE", "Asia/Shanghai")),
        )


@dataclass(frozen=True)
class Directory:
    """The actors file, read once: who is who, and which roles see personal data."""

    actors: dict[str, Actor]
    sees_personal_data: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> Directory:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        actors = {
            str(actor_id): Actor(id=str(actor_id), roles=frozenset(entry.get("roles", ())))
            for actor_id, entry in (raw.get("actors") or {}).items()
        }
        return cls(actors, frozenset(raw.get("sees_personal_data") or ()))
