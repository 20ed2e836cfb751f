"""The rules that turn a list's query string into typed values: tables of what each accepts,
what it makes of it, and the parameter a refusal names."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from keyplane.api_keys.schemas import api_key_query
from keyplane.errors import BadRequest
from keyplane.keys.schemas import parse_key_list
from keyplane.kit import paging, query
from keyplane.kit.query import Param, Sort, Span, spec
from keyplane.licenses.schemas import Expires, LicenseFilters, parse_license_list, parse_policy_license_list
from keyplane.licensing.vocab import LicenseStatus
from keyplane.machines.schemas import parse_license_machine_list, parse_machine_list
from keyplane.policies.schemas import parse_policy_list
from keyplane.products.schemas import parse_product_list
from keyplane.users.schemas import parse_user_list

ID = "0194f6a2-7c3e-7a10-8000-000000000001"


def pairs(text: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` as the (name, value) pairs a query string parses into."""
    found = []
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            found.append((name, value))
    return found


def refused(call: Any, *args: Any) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        call(*args)
    return caught.value


# -- the one rule on parameters ------------------------------------------------------------

SPEC = spec(Param("product", ""), Param("metadata[key]", "", family=True), Param("roles[]", "", many=True))


@pytest.mark.parametrize(
    ("name", "known"),
    [
        ("product", True),
        ("metadata[tier]", True),
        ("metadata[a-b_c]", True),
        ("roles[]", True),
        ("metadata", False),  # the family needs a key
        ("metadata[]", False),
        ("metadatax[tier]", False),
        ("products", False),
        ("Product", False),
        ("page[number]", False),
        ("", False),
    ],
)
def test_a_spec_knows_its_names_and_families(name: str, known: bool) -> None:
    assert SPEC.known(name) is known


def test_an_unknown_parameter_is_refused_by_name() -> None:
    error = refused(SPEC.refuse_unknown, pairs("product=x&bogus=1&other=2"))
    assert (error.status, error.code, error.source[1]) == (400, "PARAMETERS_INVALID", "bogus")
    SPEC.refuse_unknown(pairs("product=x&metadata[tier]=gold&roles[]=a&roles[]=b"))  # all known


# -- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("TRUE", True), ("1", True), ("t", True), ("yes", True), ("false", False), ("0", False)],
)
def test_booleans(text: str, value: bool) -> None:
    assert query.boolean(text, "x") is value


@pytest.mark.parametrize("text", ["", "maybe", "2", "truee"])
def test_not_booleans(text: str) -> None:
    assert refused(query.boolean, text, "suspended").source[1] == "suspended"


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("3d", Span(fixed=timedelta(days=3))),
        ("P3D", Span(fixed=timedelta(days=3))),
        ("2w", Span(fixed=timedelta(weeks=2))),
        ("1m", Span(months=1)),
        ("1y", Span(months=12)),
        ("P1Y2M", Span(months=14)),
        ("T12H", Span(fixed=timedelta(hours=12))),
        ("PT30M", Span(fixed=timedelta(minutes=30))),
        ("86400", Span(fixed=timedelta(days=1))),
    ],
)
def test_spans(text: str, span: Span) -> None:
    assert query.span(text, "expires[in]") == span


@pytest.mark.parametrize("text", ["", "P", "3", "3x", "d3", "-3d", "1h", "1000y", "9" * 11])
def test_not_spans(text: str) -> None:
    if text == "3":  # a bare number is seconds
        assert query.span(text, "x") == Span(fixed=timedelta(seconds=3))
        return
    assert refused(query.span, text, "expires[in]").source[1] == "expires[in]"


def test_a_span_moves_by_calendar_months_and_saturates() -> None:
    start = datetime(2026, 1, 31, tzinfo=UTC)
    assert Span(months=1).after(start) == datetime(2026, 2, 28, tzinfo=UTC)
    assert Span(months=12 * 200).after(datetime(9990, 1, 1, tzinfo=UTC)).year == 9999
    assert Span(fixed=timedelta(days=1)).before(datetime(1, 1, 1, tzinfo=UTC)).year == 1


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-12-01T00:00:00Z", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T02:00:00+02:00", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T00:00:00", datetime(2026, 12, 1, tzinfo=UTC)),
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("1764547200", datetime(2025, 12, 1, tzinfo=UTC)),
    ],
)
def test_instants(text: str, instant: datetime) -> None:
    assert query.instant(text, "expires[before]") == instant


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-13-01", "9" * 30, "-5"])
def test_not_instants(text: str) -> None:
    assert refused(query.instant, text, "expires[after]").source[1] == "expires[after]"


@pytest.mark.parametrize(
    ("text", "sort"),
    [
        ("createdAt", Sort("createdAt", False)),
        ("-createdAt", Sort("createdAt", True)),
        ("lastUsedAt", Sort("lastUsedAt", False)),
        ("-lastUsedAt", Sort("lastUsedAt", True)),
    ],
)
def test_sorts(text: str, sort: Sort) -> None:
    assert query.sort(text, ("createdAt", "lastUsedAt")) == sort


@pytest.mark.parametrize("text", ["", "-", "name", "--createdAt", "+createdAt", "created_at", "CreatedAt"])
def test_not_sorts(text: str) -> None:
    assert refused(query.sort, text, ("createdAt", "lastUsedAt"), "sort").source[1] == "sort"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("metadata[tier]=gold", (("tier", "gold"),)),
        ("metadata[tier]=gold&metadata[tier]=silver", (("tier", "silver"),)),
        ("metadata[a]=1&metadata[b-c_d]=", (("a", "1"), ("b-c_d", ""))),
        ("", ()),
    ],
)
def test_metadata_filters(text: str, found: tuple[tuple[str, str], ...]) -> None:
    assert query.metadata(pairs(text)) == found


@pytest.mark.parametrize(
    ("text", "parameter"),
    [("metadata[a.b]=1", "metadata[a.b]"), ('metadata[a"b]=1', 'metadata[a"b]'), ("metadata=x", "metadata")],
)
def test_bad_metadata_filters(text: str, parameter: str) -> None:
    assert refused(query.metadata, pairs(text)).source[1] == parameter


# -- paging --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "paged"),
    [
        ("", paging.Paging("limit", 10)),
        ("limit=5", paging.Paging("limit", 5)),
        ("order=asc", paging.Paging("limit", 10, descending=False)),
        ("page[number]=2&page[size]=5", paging.Paging("number", 5, number=2)),
        ("page[number]=2", paging.Paging("number", 10, number=2)),
        ("page[cursor]=", paging.Paging("cursor", 10)),
        (f"page[cursor]={ID}&page[size]=3", paging.Paging("cursor", 3, cursor=uuid.UUID(ID))),
    ],
)
def test_paging(text: str, paged: paging.Paging) -> None:
    assert paging.parse(pairs(text)) == paged


@pytest.mark.parametrize(
    ("text", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("order=up", "order"),
        ("page=1", "page"),
        ("page[size]=5", "page"),
        ("page[number]=101", "page[number]"),
        ("page[number]=1&page[cursor]=", "page"),
        ("page[cursor]=nope", "page[cursor]"),
        ("page[other]=1", "page"),
    ],
)
def test_bad_paging(text: str, parameter: str) -> None:
    error = refused(paging.parse, pairs(text))
    assert (error.code, error.source[1]) == ("PARAMETERS_INVALID", parameter)


# -- each list's parameters ----------------------------------------------------------------


def test_license_filters_are_typed() -> None:
    asked = parse_license_list(
        pairs(
            f"product={ID}&policy={ID}&user=a@b.test&machine=fp-1&status=expiring&metadata[tier]=gold"
            "&expires[in]=3d&expires[before]=2030-01-01&expires[on]=2029-06-01&suspended=false"
            "&expired=0&expiring=1&unassigned=true&activated=false&page[number]=2"
        )
    )
    assert asked.paging == paging.Paging("number", 10, number=2)
    assert asked.filters == LicenseFilters(
        product=uuid.UUID(ID),
        policy=uuid.UUID(ID),
        owner="a@b.test",
        machine="fp-1",
        status=LicenseStatus.EXPIRING,
        metadata=(("tier", "gold"),),
        expires=Expires(
            within=Span(fixed=timedelta(days=3)),
            before=datetime(2030, 1, 1, tzinfo=UTC),
            on=date(2029, 6, 1),
        ),
        suspended=False,
        expired=False,
        expiring=True,
        unassigned=True,
        activated=False,
    )
    assert parse_license_list([]).filters == LicenseFilters()


LISTS = {
    "licenses": parse_license_list,
    "policy licenses": parse_policy_license_list,
    "machines": parse_machine_list,
    "license machines": parse_license_machine_list,
    "users": parse_user_list,
    "keys": parse_key_list,
    "policies": parse_policy_list,
    "products": parse_product_list,
}


@pytest.mark.parametrize(
    ("listing", "text", "parameter"),
    [
        ("licenses", "product=not-an-id", "product"),
        ("licenses", "policy=1", "policy"),
        ("licenses", "status=LOST", "status"),
        ("licenses", "suspended=maybe", "suspended"),
        ("licenses", "unassigned=2", "unassigned"),
        ("licenses", "expires[in]=soon", "expires[in]"),
        ("licenses", "expires[before]=later", "expires[before]"),
        ("licenses", "expires[on]=2026-02-30", "expires[on]"),
        ("licenses", "expires[never]=1", "expires[never]"),
        ("licenses", "expires=3d", "expires"),
        ("licenses", "machine=", "machine"),
        ("licenses", "group=x", "group"),
        ("licenses", "metadata=gold", "metadata"),
        ("policy licenses", "policy=" + ID, "policy"),  # fixed by the path: not a parameter here
        ("policy licenses", "status=ACTIVE", "status"),
        ("machines", "product=x", "product"),
        ("machines", "status=ALIVE", "status"),
        ("license machines", "license=x", "license"),
        ("users", "roles[]=wizard", "roles[]"),
        ("users", "roles[]=product", "roles[]"),
        ("users", "status=GONE", "status"),
        ("users", "assigned=perhaps", "assigned"),
        ("users", "metadata[x]=1", "metadata[x]"),
        ("keys", "policy=nope", "policy"),
        ("keys", "owner=x", "owner"),
        ("policies", "product=nope", "product"),
        ("policies", "policy=" + ID, "policy"),
        ("products", "name=x", "name"),
        ("products", "limit=0", "limit"),
    ],
)
def test_each_list_refuses_what_it_does_not_take(listing: str, text: str, parameter: str) -> None:
    error = refused(LISTS[listing], pairs(text))
    assert (error.status, error.code, error.source[1]) == (400, "PARAMETERS_INVALID", parameter)


def test_user_filters_are_typed() -> None:
    asked = parse_user_list(
        pairs(f"roles[]=admin&roles[]=user&status=active&product={ID}&license=k&active=1")
    )
    filters = asked.filters
    assert sorted(filters.roles) == ["admin", "user"]
    assert (filters.status, filters.product, filters.license, filters.assigned) == (
        "ACTIVE",
        uuid.UUID(ID),
        "k",
        True,
    )


# -- /api-keys -----------------------------------------------------------------------------


def test_api_key_query_defaults_and_values() -> None:
    empty = api_key_query([])
    assert (empty.status, empty.limit, empty.offset, empty.sort, empty.name, empty.user_id) == (
        "active",
        25,
        0,
        None,
        None,
        None,
    )
    asked = api_key_query(pairs(f"status=inactive&limit=3&offset=4&name=Ci&userId={ID}&sort=-lastUsedAt"))
    assert (asked.status, asked.limit, asked.offset, asked.name) == ("inactive", 3, 4, "Ci")
    assert (asked.user_id, asked.sort) == (uuid.UUID(ID), Sort("lastUsedAt", True))
    assert api_key_query(pairs(f"startingAfter={ID}")).starting_after == uuid.UUID(ID)


@pytest.mark.parametrize(
    ("text", "code", "parameter"),
    [
        ("bogus=1", "PARAMETERS_INVALID", "bogus"),
        ("page[number]=1", "PARAMETERS_INVALID", "page[number]"),
        ("user_id=" + ID, "PARAMETERS_INVALID", "user_id"),
        ("limit=0", "LIMIT_INVALID", "limit"),
        ("limit=abc", "LIMIT_INVALID", "limit"),
        ("offset=-1", "OFFSET_INVALID", "offset"),
        ("status=bogus", "STATUS_INVALID", "status"),
        ("name=", "NAME_INVALID", "name"),
        ("userId=me", "USER_ID_INVALID", "userId"),
        ("sort=name", "SORT_INVALID", "sort"),
        ("sort=createdat", "SORT_INVALID", "sort"),
        ("startingAfter=nope", "STARTING_AFTER_INVALID", "startingAfter"),
        ("endingBefore=nope", "ENDING_BEFORE_INVALID", "endingBefore"),
    ],
)
def test_api_key_query_refusals(text: str, code: str, parameter: str) -> None:
    error = refused(api_key_query, pairs(text))
    assert (error.status, error.code, error.source[1]) == (400, code, parameter)
