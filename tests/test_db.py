"""What a database error says: the SQL, never the values bound to it (credential lookups and
digests, license keys, fingerprints), which would otherwise reach a crash log."""

from __future__ import annotations

import logging
import uuid
from typing import cast

import pytest
from fastapi import FastAPI
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError

from keyplane.models import Credential
from keyplane.services import services_of
from tests.factories import Tenant

CREDENTIALS = cast(Table, Credential.__table__)


async def test_a_statement_error_carries_no_parameter_values(
    app: FastAPI, acme: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    async with services_of(app).db.reader() as session:
        row = (await session.execute(select(CREDENTIALS).limit(1))).mappings().one()
    # A copy under another lookup, of an account that does not exist. (A foreign-key error:
    # PostgreSQL's own detail names the missing account id and nothing else, where a
    # duplicate or a NULL would have it quote the row's values itself.)
    lookup, digest = "HiddenLookup", row["digest"]
    copy = {**row, "lookup": lookup, "account_id": uuid.uuid4()}
    copy.pop("id")

    with pytest.raises(IntegrityError) as raised:
        async with services_of(app).db.writer() as session:
            await session.execute(insert(CREDENTIALS).values(copy))
    logging.getLogger("keyplane").exception("request.crashed", exc_info=raised.value)

    for text in (str(raised.value), caplog.text):
        assert "parameters hidden" in text
        assert lookup not in text
        assert digest.hex() not in text
        assert repr(digest)[2:-1] not in text
        assert acme.key[3:15] not in text
