"""The OpenAPI description at ``/openapi.json`` describes every route completely enough for
clients generated from it (and for fuzzers such as schemathesis) to call them."""

from __future__ import annotations

import re

import httpx


async def test_every_path_parameter_is_declared(client: httpx.AsyncClient) -> None:
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    assert "/v1/accounts/{account}" in paths
    undeclared = []
    for path, operations in paths.items():
        named = set(re.findall(r"{([^}]+)}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            if declared != named:
                undeclared.append((method.upper(), path, sorted(named - declared)))
    assert undeclared == []
