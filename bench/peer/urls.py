"""The peer's one endpoint, ``POST /verify`` (GET too): 200 ``{"valid": true}`` when the
``Authorization: Api-Key <key>`` header carries a valid key, else 403 (HasAPIKey)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey


class Verify(APIView):  # type: ignore[misc]  # rest_framework has no type information
    authentication_classes: ClassVar[list[Any]] = []  # the key is the only credential
    permission_classes: ClassVar[list[Any]] = [HasAPIKey]

    def post(self, request: Any) -> Any:
        return Response({"valid": True})

    def get(self, request: Any) -> Any:
        return Response({"valid": True})


urlpatterns = [path("verify", Verify.as_view())]
