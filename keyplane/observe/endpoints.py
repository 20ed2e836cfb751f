"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers and Prometheus, without
credentials, in plain JSON (the metrics in Prometheus' text format)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from keyplane.auth.network import client_address
from keyplane.errors import Forbidden
from keyplane.observe import health
from keyplane.observe.publish import Publisher
from keyplane.observe.schemas import Liveness, Readiness
from keyplane.services import services_of

router = APIRouter(tags=["Operations"])


@router.get("/healthz", response_model=Liveness)
async def healthz() -> dict[str, str]:
    """Liveness: 200 while the process is up and serving. Touches nothing else."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        200: {"model": Readiness},
        503: {
            "model": Readiness,
            "description": "A check failed; `failing` names it, `Retry-After` says when to ask again",
        },
    },
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers, its schema is this code's, and the invalidation
    channel (with Redis, or PostgreSQL) vouches for the caches. Each check is ``ok`` or
    says what is wrong."""
    state = services_of(request.app)
    checks = await health.readiness(state.db, state.bus)
    failing = [name for name, result in checks.items() if result != health.OK]
    if failing:
        body: dict[str, Any] = {"status": "unavailable", "failing": failing, "checks": checks}
        return JSONResponse(body, 503, headers={"Retry-After": "1", "Cache-Control": "no-store"})
    return JSONResponse({"status": "ready", "checks": checks}, headers={"Cache-Control": "no-store"})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics, for the addresses in ``KEYPLANE_METRICS_ALLOW`` only."""
    settings = services_of(request.app).settings
    address = client_address(request.scope, settings.trusted_proxies)
    if address is None or not any(address in network for network in settings.metrics_allow):
        raise Forbidden("Metrics are not served to this address (KEYPLANE_METRICS_ALLOW)", "IP_NOT_ALLOWED")
    publisher: Publisher = services_of(request.app).publisher
    return Response(publisher.scrape(), media_type=CONTENT_TYPE_LATEST)
