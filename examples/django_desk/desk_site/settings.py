"""A minimal Django site: one app (``desk``) that keeps servflow cases in its own tables.

The database is SQLite by default (``DJANGO_DESK_DB`` names the file); any database
Django supports works the same way, PostgreSQL included.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["django.contrib.contenttypes", "desk"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "desk_site.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DESK_DB", str(BASE_DIR / "desk.sqlite3")),
    }
}
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Who may call the site, and with which servflow roles. THIS STANDS IN FOR THE HOST'S
# REAL AUTHENTICATION (django.contrib.auth, single sign-on): the view trusts the
# X-Actor header.
DESK_ACTORS = {
    "u7": ["repair_reception"],
    "t1": ["maintenance"],
    "s1": ["cs_supervisor"],
}
