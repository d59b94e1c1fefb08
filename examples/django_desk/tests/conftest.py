"""Django, set up once for these tests on a SQLite file of their own, migrated."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

_FOLDER = tempfile.TemporaryDirectory()
os.environ["DJANGO_SETTINGS_MODULE"] = "desk_site.settings"
os.environ["DJANGO_DESK_DB"] = str(Path(_FOLDER.name) / "desk.sqlite3")

import django  # noqa: E402
from django.core.management import call_command  # noqa: E402

django.setup()
call_command("migrate", verbosity=0)


def pytest_unconfigure() -> None:
    from django.db import connections

    connections.close_all()
    _FOLDER.cleanup()
