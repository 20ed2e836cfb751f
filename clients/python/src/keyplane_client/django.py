"""A Django REST framework guard: ``KeyplanePermission``, a permission class that verifies the
key each request presents with Keyplane (the sync client) and puts the verification on
``request.keyplane``. Install with ``pip install 'keyplane-client[django]'``.

    from rest_framework.response import Response
    from rest_framework.views import APIView
    from keyplane_client.django import KeyplanePermission

    class Reports(APIView):
        permission_classes = [KeyplanePermission]
        required_scopes = ["READ"]

        def get(self, request):
            return Response({"owner": request.keyplane.owner_id})

The Keyplane it asks is ``KEYPLANE_URL`` with ``KEYPLANE_API_KEY``, from Django's settings or
else the environment. ``KeyplanePermission.using(client=..., fail_open=..., cache_ttl=...)``
makes a variant with its own client and options (see ``keyplane_client.fastapi.require_key``
for what they mean).

Refusals, as DRF exceptions whose body is ``{"detail": {"code", "message"}}``: 401
(``KeyRefused``: ``KEY_MISSING``, ``MALFORMED``, ``NOT_FOUND``, ``REVOKED``, ``INACTIVE``,
``EXPIRED``), 403 (``KeyForbidden``: ``IP_NOT_ALLOWED``, ``INSUFFICIENT_SCOPE``), 429 with
``Retry-After`` (``KeyRateLimited``, a DRF ``Throttled``: ``RATE_LIMITED``), 503
(``KeyplaneUnavailable``: ``KEYPLANE_UNAVAILABLE`` with ``Retry-After``, ``KEYPLANE_REFUSED``).
"""

from __future__ import annotations

import functools
import os
import threading
import time
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from keyplane_client.client import Keyplane
from keyplane_client.guard import Clock, Guard, Refusal, cache_for, client_ip, presented_key, settings_from

# DRF and Django ship no type information: their classes are Any to mypy, hence the ignores
# on the subclasses below.


def _detail(refusal: Refusal) -> dict[str, dict[str, str]]:
    return refusal.body()


class KeyRefused(exceptions.APIException):  # type: ignore[misc]  # DRF is untyped
    """401. Not DRF's ``AuthenticationFailed``, which DRF turns into a 403 on a view
    without an authentication class that names a ``WWW-Authenticate`` scheme."""

    status_code = 401
    default_code = "KEY_REFUSED"


class KeyForbidden(exceptions.PermissionDenied):  # type: ignore[misc]  # DRF is untyped
    """403."""


class KeyRateLimited(exceptions.Throttled):  # type: ignore[misc]  # DRF is untyped
    """429; DRF sends ``wait`` as ``Retry-After``."""

    def __init__(self, refusal: Refusal) -> None:
        # Throttled's own __init__ would append "Expected available in ..." to a text detail.
        exceptions.APIException.__init__(self, _detail(refusal), refusal.code)
        self.wait = refusal.retry_after


class KeyplaneUnavailable(exceptions.APIException):  # type: ignore[misc]  # DRF is untyped
    """503; DRF sends ``wait``, when there is one, as ``Retry-After``."""

    status_code = 503
    default_code = "KEYPLANE_UNAVAILABLE"

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(_detail(refusal), refusal.code)
        self.wait = refusal.retry_after


def refused(refusal: Refusal) -> exceptions.APIException:
    if refusal.status == 429:
        return KeyRateLimited(refusal)
    if refusal.status == 503:
        return KeyplaneUnavailable(refusal)
    kind = KeyForbidden if refusal.status == 403 else KeyRefused
    return kind(_detail(refusal), refusal.code)


@functools.cache
def default_client() -> Keyplane:
    """The process's client of ``KEYPLANE_URL`` with ``KEYPLANE_API_KEY`` (Django's settings,
    else the environment), shared by every ``KeyplanePermission`` without one of its own."""
    names = ("KEYPLANE_URL", "KEYPLANE_API_KEY")
    try:
        url, api_key = settings_from(
            {name: getattr(settings, name, None) or os.environ.get(name) for name in names}
        )
    except ValueError as missing:
        # Django's own word for a setting the project lacks: it names the fix, not a bug.
        raise ImproperlyConfigured(str(missing)) from None
    return Keyplane(url, api_key)


class KeyplanePermission(BasePermission):  # type: ignore[misc]  # DRF is untyped
    """Lets a request through only with a key Keyplane verifies for the view's
    ``required_scopes`` (none: any valid key) from the request's address, and sets
    ``request.keyplane`` to that ``Verification``."""

    guard: ClassVar[Guard | None] = None
    """This class's guard; None: the default one (the shared client, no cache, fail closed)."""

    @classmethod
    def using(
        cls,
        *,
        client: Keyplane | None = None,
        fail_open: bool = False,
        cache_ttl: float = 0,
        clock: Clock = time.monotonic,
    ) -> type[KeyplanePermission]:
        """A ``KeyplanePermission`` with its own guard: ``client`` (default: the shared one),
        ``fail_open`` and ``cache_ttl`` as ``keyplane_client.fastapi.require_key`` takes them."""
        guard = Guard(
            client if client is not None else default_client(),
            fail_open=fail_open,
            cache=cache_for(cache_ttl, clock),
        )
        return type(cls.__name__, (cls,), {"guard": guard})

    def client_address(self, request: Any) -> str | None:
        """The caller's address: ``REMOTE_ADDR``. Behind a proxy, override this with the
        address your proxy vouches for."""
        address = request.META.get("REMOTE_ADDR")
        return client_ip(address if isinstance(address, str) else None)

    def has_permission(self, request: Any, view: Any) -> bool:
        guard = self.guard if self.guard is not None else _shared_guard()
        key = presented_key(request.META.get("HTTP_AUTHORIZATION"), request.META.get("HTTP_X_API_KEY"))
        outcome = guard.check(key, self.client_address(request), tuple(getattr(view, "required_scopes", ())))
        if isinstance(outcome, Refusal):
            raise refused(outcome)
        request.keyplane = outcome
        return True


@functools.cache
def default_guard() -> Guard:
    """The guard of ``KeyplanePermission`` itself: the shared client, no cache, fail closed."""
    return Guard(default_client())


_first_use = threading.Lock()


def _shared_guard() -> Guard:
    # Requests arrive on several threads: one makes the shared client, the others wait for it
    # (``functools.cache`` alone could make two, and leave one unclosed).
    with _first_use:
        return default_guard()
