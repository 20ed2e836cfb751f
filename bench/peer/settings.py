"""The peer's Django settings: the least a Django REST framework API with
djangorestframework-api-key needs, as it would be deployed (``DEBUG`` off, quiet logs).

Read from the environment: ``KEYPLANE_PEER_DB``, the SQLite file (``bench.peer.run`` creates
it in its scratch folder), and ``KEYPLANE_PEER_CONN_MAX_AGE``, how long a process keeps its
database connection (0, Django's default, closes it after each request: what Django's
documentation asks under ASGI, where each request runs in a thread of its own; the
threaded WSGI server, whose threads live on, keeps it open as a production setup would).

No Django import here: mypy sees this module without the ``peer`` extra installed.
"""

from __future__ import annotations

import os

_db = os.environ.get("KEYPLANE_PEER_DB")
if not _db:
    raise RuntimeError("KEYPLANE_PEER_DB must name the peer's SQLite file (bench.peer.run sets it)")

# Signs nothing here (no sessions, no CSRF tokens, no signed cookies); Django requires one.
SECRET_KEY = "keyplane-bench-peer-signs-nothing"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

# contenttypes and auth: with no authentication class, Django REST framework makes each
# request's user django.contrib.auth's AnonymousUser, whose module defines auth's models
# (which need both apps); the library itself only uses auth's password hashing
# (make_password). No admin, sessions or messages: an API checked by key needs none of them.
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework_api_key",
]
# Only CommonMiddleware, for the Content-Length it puts on every response (without it the
# servers fall back to chunked bodies); its other work (APPEND_SLASH, PREPEND_WWW,
# DISALLOWED_USER_AGENTS) is a few attribute reads on a path that exists. Sessions, CSRF,
# authentication and messages middleware serve browsers and session logins, not a key-checked
# API: a DRF API deployment leaves them out (DRF's views are CSRF-exempt anyway). No
# SecurityMiddleware either: its headers and HTTPS redirect concern browsers over TLS.
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "bench.peer.urls"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _db,
        "CONN_MAX_AGE": int(os.environ.get("KEYPLANE_PEER_CONN_MAX_AGE", "0")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

REST_FRAMEWORK = {
    # JSON only (no browsable API, so no templates); the view sets its own (no)
    # authentication and its permission, as the library's documentation shows.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

# Quiet: errors only (Django would log every 403 as a warning of django.request).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "ERROR"},
    "loggers": {"django": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}},
}
