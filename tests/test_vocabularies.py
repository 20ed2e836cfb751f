"""The vocabularies (enums) are the words on the wire and in the database: their values are
Keygen's, and every table that answers for each word has an entry for each one, so a word
added to an enum without its entry fails here rather than as a 500 (a ``KeyError``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import String, select, type_coerce

from keyplane.auth.scopes import TOKEN_KINDS, USER_ROLES, Role, TokenKind
from keyplane.credentials.authentication import REFUSALS
from keyplane.credentials.engine import DETAILS as OUTCOME_DETAILS
from keyplane.credentials.engine import Outcome
from keyplane.licenses.validation import DETAILS as CODE_DETAILS
from keyplane.licensing.heartbeat import HeartbeatStatus
from keyplane.licensing.vocab import Code, LicenseStatus
from keyplane.machines.service import UNIQUE_IN
from keyplane.models import Policy
from keyplane.models.credential import CredentialStatus
from keyplane.models.policy import (
    ExpirationStrategy,
    HeartbeatResurrectionStrategy,
    MachineMatchingStrategy,
    MachineUniquenessStrategy,
    OverageStrategy,
)
from keyplane.models.product import DistributionStrategy
from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant

TABLES: list[tuple[str, Mapping[Any, Any], frozenset[Any]]] = [
    ("validation code -> detail", CODE_DETAILS, frozenset(Code)),
    ("verification outcome -> detail", OUTCOME_DETAILS, frozenset(Outcome)),
    ("refused outcome -> refusal", REFUSALS, frozenset(Outcome) - {Outcome.VALID}),
    ("uniqueness strategy -> words", UNIQUE_IN, frozenset(MachineUniquenessStrategy)),
    ("token role -> kind", TOKEN_KINDS, frozenset(USER_ROLES) | {Role.PRODUCT, Role.LICENSE}),
]


@pytest.mark.parametrize(("name", "table", "members"), TABLES, ids=[name for name, _, _ in TABLES])
def test_every_word_has_its_entry(name: str, table: Mapping[Any, Any], members: frozenset[Any]) -> None:
    assert set(table) == members, f"{name}: missing {members - set(table)}, extra {set(table) - members}"


WIRE: list[tuple[type[StrEnum], set[str]]] = [
    (LicenseStatus, {"ACTIVE", "INACTIVE", "EXPIRING", "EXPIRED", "SUSPENDED", "BANNED"}),
    (HeartbeatStatus, {"NOT_STARTED", "ALIVE", "DEAD", "RESURRECTED"}),
    (CredentialStatus, {"active", "inactive"}),
    (DistributionStrategy, {"LICENSED", "OPEN", "CLOSED"}),
    (ExpirationStrategy, {"RESTRICT_ACCESS", "REVOKE_ACCESS", "MAINTAIN_ACCESS", "ALLOW_ACCESS"}),
    (MachineMatchingStrategy, {"MATCH_ANY", "MATCH_TWO", "MATCH_MOST", "MATCH_ALL"}),
    (
        OverageStrategy,
        {
            "ALWAYS_ALLOW_OVERAGE",
            "ALLOW_1_25X_OVERAGE",
            "ALLOW_1_5X_OVERAGE",
            "ALLOW_2X_OVERAGE",
            "NO_OVERAGE",
        },
    ),
    (
        HeartbeatResurrectionStrategy,
        {
            "ALWAYS_REVIVE",
            "NO_REVIVE",
            "1_MINUTE_REVIVE",
            "2_MINUTE_REVIVE",
            "5_MINUTE_REVIVE",
            "10_MINUTE_REVIVE",
            "15_MINUTE_REVIVE",
        },
    ),
    (
        TokenKind,
        {
            "admin-token",
            "developer-token",
            "read-only-token",
            "support-token",
            "sales-token",
            "user-token",
            "product-token",
            "activation-token",
        },
    ),
]


@pytest.mark.parametrize(("vocabulary", "words"), WIRE, ids=[v.__name__ for v, _ in WIRE])
def test_the_words_are_the_wire_strings(vocabulary: type[StrEnum], words: set[str]) -> None:
    """What clients send and read, and what the rows hold, never changes with a rename."""
    assert {member.value for member in vocabulary} == words


def test_validation_codes_are_their_own_names() -> None:
    """Keygen's codes are their names, which ``meta.code`` shows as they are."""
    assert all(code.name == code.value for code in Code)


async def test_rows_hold_the_plain_words(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """A policy's strategies are stored as the strings Keygen names them (what older rows and
    other readers of the table hold) and read back as the enum's members."""
    product = await factories.product(client, acme)
    made = await factories.policy(
        client,
        acme,
        product,
        expirationStrategy="MAINTAIN_ACCESS",
        heartbeatResurrectionStrategy="5_MINUTE_REVIVE",
    )
    columns = (Policy.expiration_strategy, Policy.heartbeat_resurrection_strategy, Policy.overage_strategy)
    async with services_of(app).db.writer() as session:
        # ``type_coerce`` reads the column as a plain string: what the row itself holds.
        raw = select(*(type_coerce(column, String) for column in columns), type_coerce(Policy.scheme, String))
        stored = (await session.execute(raw.where(Policy.id == uuid.UUID(made)))).one()
        read = await session.get(Policy, uuid.UUID(made))
    assert tuple(stored) == ("MAINTAIN_ACCESS", "5_MINUTE_REVIVE", "NO_OVERAGE", None)
    assert read is not None
    assert read.expiration_strategy is ExpirationStrategy.MAINTAIN_ACCESS
    assert read.heartbeat_resurrection_strategy is HeartbeatResurrectionStrategy.REVIVE_5_MINUTES
    assert read.overage_strategy is OverageStrategy.NO_OVERAGE
    assert read.scheme is None
