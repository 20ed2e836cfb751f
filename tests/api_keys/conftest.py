from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests import factories


@pytest.fixture
async def beta(app: FastAPI, acme: factories.Tenant) -> factories.Tenant:
    """A second account, created after ``acme`` (so bare ``/v1`` still serves acme)."""
    return await factories.tenant(app, "beta")
