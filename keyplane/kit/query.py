"""What a list route accepts in its query string, and the typed values it is parsed into.

Every list route declares its parameters once (a ``Spec``: names, descriptions, and for
Keygen's bracketed objects such as ``metadata[key]`` the family). The edge turns the query
string into typed values with these rules before any service runs; a parameter the route
does not declare, or a bad value of one it does, is a 400 naming the parameter. Nothing here
knows HTTP: a query string arrives as its ``(name, value)`` pairs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from keyplane.errors import BadRequest
from keyplane.kit.instants import add_months

Items = Sequence[tuple[str, str]]
"""A query string as its ``(name, value)`` pairs, in order, repeats kept."""

INVALID = "PARAMETERS_INVALID"
"""Keygen's code for a query string it refuses (the licensing API's; the API-key surface
names the parameter in its codes instead)."""


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter a route accepts.

    ``family``: the name is ``prefix[key]`` and any key may stand in for ``key``
    (``metadata[tier]=gold``). ``many``: the parameter may repeat (``roles[]=a&roles[]=b``).
    """

    name: str
    description: str
    family: bool = False
    many: bool = False

    def accepts(self, name: str) -> bool:
        if not self.family:
            return name == self.name
        prefix = self.name.split("[", 1)[0] + "["
        return name.startswith(prefix) and name.endswith("]") and len(name) > len(prefix) + 1


@dataclass(frozen=True, slots=True)
class Spec:
    """The parameters of one list route, in the order they are documented."""

    params: tuple[Param, ...]

    def __add__(self, other: Spec) -> Spec:
        return Spec(self.params + other.params)

    def known(self, name: str) -> bool:
        return any(param.accepts(name) for param in self.params)

    def refuse_unknown(self, items: Items, code: str = INVALID) -> None:
        """The one rule: a list takes only the parameters it declares; any other is a 400
        naming it (never silently ignored, so a filter a client misspells narrows nothing
        by accident)."""
        for name, _ in items:
            if not self.known(name):
                names = ", ".join(param.name for param in self.params)
                raise BadRequest(f"is not a parameter of this list (it takes: {names})", code, parameter=name)


def spec(*params: Param) -> Spec:
    return Spec(params)


def last(items: Items, name: str) -> str | None:
    """The value of ``name`` (the last one given, as Keygen reads a repeated parameter)."""
    found = None
    for key, value in items:
        if key == name:
            found = value
    return found


def every(items: Items, name: str) -> list[str]:
    return [value for key, value in items if key == name]


def family(items: Items, prefix: str) -> list[tuple[str, str]]:
    """``prefix[key]=value`` pairs as ``(key, value)``, the last value of each key."""
    found: dict[str, str] = {}
    start = prefix + "["
    for key, value in items:
        if key.startswith(start) and key.endswith("]"):
            found[key[len(start) : -1]] = value
    return list(found.items())


def refuse(parameter: str, detail: str, code: str = INVALID) -> BadRequest:
    return BadRequest(detail, code, parameter=parameter)


# -- values --------------------------------------------------------------------------------

_TRUE = frozenset({"true", "t", "1", "yes", "on"})
_FALSE = frozenset({"false", "f", "0", "no", "off"})


def boolean(value: str, name: str, code: str = INVALID) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise refuse(name, f"must be true or false (got {value!r})", code)


def choice(value: str, allowed: Iterable[str], name: str, code: str = INVALID) -> str:
    """``value`` upper-cased when it is one of ``allowed`` (Keygen's enumerations ignore case)."""
    options = tuple(allowed)
    if value.upper() not in options:
        raise refuse(name, f"must be one of: {', '.join(options)}", code)
    return value.upper()


def identifier(value: str, name: str, code: str = INVALID) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise refuse(name, f"must be an id (got {value!r})", code) from None


def reference(value: str, name: str, code: str = INVALID) -> str:
    """A record named by id or by another unique value (email, key, fingerprint): any
    non-empty text of a sane length."""
    if not value or len(value) > 20_000:
        raise refuse(name, "must be an id (or another unique value of the record)", code)
    return value


_METADATA_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def metadata(items: Items, code: str = INVALID) -> tuple[tuple[str, str], ...]:
    """``metadata[key]=value`` filters. Keys are letters, digits, ``_`` and ``-`` (what a
    metadata key is in practice, and what can go into a JSON path safely)."""
    pairs = family(items, "metadata")
    for key, _ in pairs:
        if not _METADATA_KEY.fullmatch(key):
            raise refuse(f"metadata[{key}]", "metadata keys are 1 to 64 letters, digits, '_' or '-'", code)
    if last(items, "metadata") is not None:
        raise refuse("metadata", "must be an object: metadata[key]=value", code)
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class Span:
    """A length of time as Keygen reads one (``3d``, ``2w``, ``P1M``, ``PT12H``, or seconds):
    calendar months and years, and a fixed part."""

    months: int = 0
    fixed: timedelta = timedelta(0)

    def after(self, when: datetime) -> datetime:
        """``when`` plus this span (the end of time, when that is past it)."""
        try:
            return add_months(when, self.months) + self.fixed
        except (OverflowError, ValueError):
            return datetime.max.replace(tzinfo=UTC)

    def before(self, when: datetime) -> datetime:
        """``when`` less this span (the start of time, when that is before it)."""
        try:
            return add_months(when, -self.months) - self.fixed
        except (OverflowError, ValueError):
            return datetime.min.replace(tzinfo=UTC)


_SPAN = re.compile(
    r"P?(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?",
    re.IGNORECASE,
)
_MAX_DAYS = 366 * 200


def span(value: str, name: str, code: str = INVALID) -> Span:
    """Keygen's durations: a number of seconds, or ISO 8601 with or without its ``P``
    (``3d`` is ``P3D``, three days; ``2w`` two weeks; ``1y``; ``T12H`` twelve hours)."""
    text = value.strip()
    problem = f"must be a duration such as 3d, 2w, 1m, 1y, T12H or a number of seconds (got {value!r})"
    if text.isdigit() and len(text) <= 10:
        return Span(fixed=timedelta(seconds=int(text)))
    match = _SPAN.fullmatch(text)
    if match is None or not any(match.groupdict().values()) or len(text) > 40:
        raise refuse(name, problem, code)
    part = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    fixed = timedelta(weeks=part["w"], days=part["d"], hours=part["h"], minutes=part["mi"], seconds=part["s"])
    months = part["y"] * 12 + part["mo"]
    if months > 12 * 200 or fixed > timedelta(days=_MAX_DAYS):
        raise refuse(name, "must be at most 200 years", code)
    return Span(months=months, fixed=fixed)


def instant(value: str, name: str, code: str = INVALID) -> datetime:
    """A point in time: seconds since the epoch, or ISO 8601 (a date alone is its midnight,
    a time without an offset is UTC)."""
    text = value.strip()
    problem = f"must be an ISO 8601 time or seconds since the epoch (got {value!r})"
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise refuse(name, problem, code) from None


@dataclass(frozen=True, slots=True)
class Sort:
    """A sort by one field (its wire name), either way; ties go by id the same way."""

    field: str
    descending: bool


def sort(value: str, fields: Iterable[str], name: str = "sort", code: str = INVALID) -> Sort:
    """``createdAt`` (ascending) or ``-createdAt`` (descending), among ``fields``."""
    allowed = tuple(fields)
    descending = value.startswith("-")
    field = value.removeprefix("-")
    if field not in allowed:
        options = ", ".join(f"{f}, -{f}" for f in allowed)
        raise refuse(name, f"must be one of: {options}", code)
    return Sort(field, descending)
