"""The event log's pure rules, table-driven: every event names a resource type, how changes
become a diff, which refusals are noted, how the list's query is read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm.attributes import set_committed_value

from keyplane.api_keys.service import REFUSALS_THAT_MATTER
from keyplane.credentials.engine import Outcome
from keyplane.errors import BadRequest
from keyplane.events.names import EventName, ResourceType
from keyplane.events.schemas import event_filters
from keyplane.events.service import pending_diff
from keyplane.kit.actor import ActorType, Whodunnit, whodunnit
from keyplane.kit.credentials import CredentialKind
from keyplane.models import License, User


@pytest.mark.parametrize("event", list(EventName))
def test_every_event_names_the_type_of_its_resource(event: EventName) -> None:
    assert event.resource is ResourceType(event.value.split(".")[0])
    assert event.resource.plural


def test_a_pending_change_is_its_diff_with_api_names() -> None:
    license = License()
    # As if loaded: the current values are what the database holds.
    for name, value in (
        ("name", "old"),
        ("max_machines", 1),
        ("meta", {}),
        ("key", "SECRET-KEY"),
        ("suspended", False),
    ):
        set_committed_value(license, name, value)
    license.name = "new"
    license.max_machines = 5
    license.meta = {"tier": "gold"}
    license.key = "ANOTHER-SECRET"
    license.suspended = False  # set, unchanged

    assert pending_diff(license) == {
        "name": ["old", "new"],
        "maxMachines": [1, 5],
        "metadata": [{}, {"tier": "gold"}],
        "key": [None, None],
    }


def test_a_password_change_shows_no_hash() -> None:
    user = User()
    for name, value in (("email", "a@b.c"), ("role", "user"), ("password_hash", "$argon2id$old")):
        set_committed_value(user, name, value)
    user.password_hash = "$argon2id$new"
    assert pending_diff(user) == {"passwordHash": [None, None]}


@pytest.mark.parametrize(
    ("kind", "user", "product", "expected"),
    [
        (CredentialKind.API_KEY, True, False, ActorType.API_KEY),
        (CredentialKind.ACCESS_TOKEN, True, False, ActorType.TOKEN),
        (CredentialKind.TOKEN, True, False, ActorType.USER),
        (CredentialKind.TOKEN, False, True, ActorType.PRODUCT),
    ],
)
def test_who_acts_with_a_credential(
    kind: CredentialKind, user: bool, product: bool, expected: ActorType
) -> None:
    credential, user_id, product_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    found = whodunnit(kind, credential, user_id if user else None, product_id if product else None)
    own = {ActorType.API_KEY: credential, ActorType.TOKEN: credential, ActorType.USER: user_id}
    assert found == Whodunnit(expected, own.get(expected, product_id))


@pytest.mark.parametrize(
    ("outcome", "noted"),
    [(outcome, outcome.value in {"REVOKED", "INACTIVE", "EXPIRED", "IP_NOT_ALLOWED"}) for outcome in Outcome],
)
def test_which_refusals_are_noted(outcome: Outcome, noted: bool) -> None:
    assert (outcome in REFUSALS_THAT_MATTER) is noted


@pytest.mark.parametrize(
    ("query", "field", "expected"),
    [
        (
            [("resource[type]", "Licenses"), ("resource[id]", str(uuid.UUID(int=1)))],
            "resource_type",
            ResourceType.LICENSE,
        ),
        ([("whodunnit[type]", "api-keys")], "whodunnit_type", ActorType.API_KEY),
        ([("event", "a"), ("events[]", "b")], "events", ("a", "b")),
        (
            [("date[start]", "2026-01-01"), ("date[end]", "2026-01-31")],
            "until",
            datetime(2026, 2, 1, tzinfo=UTC),
        ),
        (
            [("date[start]", "2026-01-01"), ("date[end]", "2026-01-01")],
            "since",
            datetime(2026, 1, 1, tzinfo=UTC),
        ),
    ],
)
def test_the_list_query(query: list[tuple[str, str]], field: str, expected: object) -> None:
    assert getattr(event_filters(query), field) == expected


@pytest.mark.parametrize(
    "query",
    [
        [("date[start]", "2026-01-01"), ("date[end]", "2026-02-01")],  # 32 days
        [("date[start]", "2026-01-02"), ("date[end]", "2026-01-01")],  # backwards
        [("whodunnit[id]", str(uuid.UUID(int=1)))],  # an id without its type
        [("resource[colour]", "red")],
    ],
)
def test_refused_list_queries(query: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest):
        event_filters(query)
