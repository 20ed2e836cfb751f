"""``GET /metrics``: Prometheus' text, counts that move with the traffic, only for allowed
addresses. The counters belong to the process (as Prometheus' do), so each test compares
what it reads after its traffic with what it read before."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from keyplane.kit.credentials import CredentialKind, generate
from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant, bearer

LOOPBACK = ("127.0.0.1", 40001)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(app: FastAPI) -> Samples:
    transport = httpx.ASGITransport(app=app, client=LOOPBACK)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as local:
        response = await local.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def _verify(client: httpx.AsyncClient, acme: Tenant, key: str) -> str:
    response = await client.post(f"{acme.base}/api-keys/verify", json={"key": key}, headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    return str(response.json()["code"])


async def test_counts_move_with_the_traffic(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    made = await factories.api_key(client, acme, name="backend")
    limited = await factories.api_key(client, acme, name="limited", rateLimit={"limit": 1, "duration": 3600})
    policy = await factories.policy(client, acme)
    license = await factories.license(client, acme, policy, key="METRICS-0001-ABCD")
    unknown, _ = generate(CredentialKind.API_KEY)
    before = await scrape(app)

    codes = [await _verify(client, acme, str(made["key"])) for _ in range(5)]
    codes.append(await _verify(client, acme, unknown))
    codes += [await _verify(client, acme, str(limited["key"])) for _ in range(2)]
    assert codes == ["VALID"] * 5 + ["NOT_FOUND", "VALID", "RATE_LIMITED"]
    for key in ("METRICS-0001-ABCD", "METRICS-0001-ABCD", "NO-SUCH-KEY-0000"):
        response = await client.post(
            f"{acme.base}/licenses/actions/validate-key", json={"meta": {"key": key}}
        )
        assert response.status_code == 200, response.text
    assert (await client.get(f"{acme.base}/licenses/{license['id']}")).status_code == 401
    await services_of(app).usage.flush()

    after = await scrape(app)
    verify_route = "/v1/accounts/{account}/api-keys/verify"
    assert (
        moved(before, after, "keyplane_http_requests_total", route=verify_route, method="POST", status="200")
        == 8
    )
    assert (
        moved(
            before, after, "keyplane_http_request_duration_seconds_count", route=verify_route, method="POST"
        )
        == 8
    )
    assert moved(before, after, "keyplane_verifications_total", code="VALID") == 6
    assert moved(before, after, "keyplane_verifications_total", code="NOT_FOUND") == 1
    assert moved(before, after, "keyplane_verifications_total", code="RATE_LIMITED") == 1
    assert moved(before, after, "keyplane_license_validations_total", code="VALID") == 2
    assert moved(before, after, "keyplane_license_validations_total", code="NOT_FOUND") == 1
    assert moved(before, after, "keyplane_rate_limit_decisions_total", decision="allowed") >= 1
    assert moved(before, after, "keyplane_rate_limit_decisions_total", decision="refused") == 1
    # The license's route by its template, never by the id or key in its path.
    license_route = "/v1/accounts/{account}/licenses/{license}"
    assert (
        moved(before, after, "keyplane_http_requests_total", route=license_route, method="GET", status="401")
        == 1
    )
    assert not any("METRICS-0001" in str(labels) for _, labels in after)
    assert moved(before, after, "keyplane_cache_hits_total", cache="credentials") >= 5
    assert moved(before, after, "keyplane_usage_flush_rows_count") == 1
    assert after[("keyplane_cache_entries", frozenset({("cache", "credentials")}))] >= 2
    assert ("keyplane_db_pool_in_use", frozenset()) in after
    assert ("process_resident_memory_bytes", frozenset()) in after


async def test_a_path_no_route_takes_is_one_label(app: FastAPI, client: httpx.AsyncClient) -> None:
    before = await scrape(app)
    for path in ("/v1/nothing/BETA-0001-XYZW", "/wp-admin/setup.php"):
        assert (await client.get(path)).status_code == 404
    after = await scrape(app)
    assert (
        moved(before, after, "keyplane_http_requests_total", route="(unmatched)", method="GET", status="404")
        == 2
    )
    assert not any("BETA-0001" in str(labels) or "wp-admin" in str(labels) for _, labels in after)


async def test_refused_to_an_address_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")  # from 203.0.113.7: not loopback
    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"status", "error", "requestId"}
    assert body["error"]["code"] == "IP_NOT_ALLOWED"
    assert "keyplane_" not in response.text
