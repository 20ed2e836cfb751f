"""Every goal the benchmarks hold Keyplane to, in one table (``GOALS``), and how a figure is
judged against it. ``python -m bench`` and ``python -m bench.soak`` print and log what this
table says; bench/README.md describes it and points here.

Two kinds of goal:

- a *row goal* (``RowGoal``) holds one row of a run to a share of its paired floor's
  requests/s and/or a p99 bound;
- a *comparison* (``Comparison``) holds one row to a multiple of another row: either each
  against its own paired floor (the host's speed drifts between rows minutes apart), or
  their requests/s alone.

A row or comparison with an error (non-2xx answers, socket errors, a failed check) is never
met. A row with no goal is judged ``None`` (printed "-").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figures:
    """What a goal is judged on: one row's figures."""

    rps: float
    p99_ms: float
    floor: float | None = None
    """The paired floor's requests/s under the same load; None when not paired."""
    errors: int = 0
    """Non-2xx answers and socket errors."""
    problem: str = ""
    """A failed check (the row's first request), if any."""

    @property
    def share(self) -> float | None:
        """Requests/s as a share of the paired floor's."""
        return self.rps / self.floor if self.floor else None


@dataclass(frozen=True)
class RowGoal:
    row: str
    """The key of the row it holds (``Row.key`` in bench/__main__.py; "soak" is every
    operation of ``python -m bench.soak``)."""
    means: str
    share: float | None = None
    """At least this share of the paired floor's requests/s."""
    p99_ms: float | None = None
    """p99 under this many milliseconds."""

    def describe(self) -> str:
        parts = []
        if self.share is not None:
            parts.append(f">= {self.share:.0%} of floor")
        if self.p99_ms is not None:
            parts.append(f"p99 < {self.p99_ms:g} ms")
        return ", ".join(parts)

    def met(self, figures: Figures) -> bool:
        if figures.errors or figures.problem:
            return False
        if self.share is not None:
            share = figures.share
            if share is None or share < self.share:
                return False
        return self.p99_ms is None or figures.p99_ms < self.p99_ms


@dataclass(frozen=True)
class Comparison:
    name: str
    """How the log and the table name it."""
    of: str
    """The key of the row held to the goal."""
    against: str
    """The key of the row it is compared with."""
    ratio: float
    """``of`` must reach at least this multiple of ``against``."""
    means: str
    paired: bool = True
    """Each row against its own paired floor when both have one (else requests/s alone)."""
    against_is_keyplane: bool = True
    """Whether ``against``'s errors count too (they do not for the peer, another program)."""
    as_share: bool = False
    """Print the ratio as a percentage (90%) rather than a multiple (20x)."""

    def describe(self) -> str:
        return f">= {self.ratio:.0%}" if self.as_share else f">= {self.ratio:g}x"

    def figure(self, of: Figures, against: Figures) -> float | None:
        """The multiple ``of`` reached of ``against``; None when it cannot be computed."""
        of_share, against_share = of.share, against.share
        if self.paired and of_share is not None and against_share:
            return of_share / against_share
        return of.rps / against.rps if against.rps > 0 else None

    def met(self, of: Figures, against: Figures) -> bool | None:
        figure = self.figure(of, against)
        if figure is None:
            return None
        errors = of.errors or of.problem or (self.against_is_keyplane and (against.errors or against.problem))
        return figure >= self.ratio and not errors


ROWS = frozenset(
    {
        "floor-fixed",
        "floor-random",
        "verify-1k",
        "verify-1k-quiet",
        "verify-1k-2-workers",
        "get",
        "verify",
        "verify-same-draw",
        "peer",
        "validate-key",
        "ping",
    }
)
"""The keys of ``python -m bench``'s rows (bench/README.md says what each measures); the
peer's slower server is ``peer: <server>``."""

PEER_PER_WORKER = 1_200
"""Verifications/s per worker of the Django REST framework peer as issue 5 states it (measured
on another machine): what the peer comparison uses when the peer is not measured in the run."""

GOALS: tuple[RowGoal | Comparison, ...] = (
    RowGoal(
        "verify",
        "verification costs little more than answering at all, with 1,000,000 keys stored and a "
        "10,000-key working set",
        share=0.60,
        p99_ms=10.0,
    ),
    RowGoal(
        "validate-key",
        "a license validation with its machine scope, answered and Ed25519-signed",
        share=0.25,
    ),
    RowGoal("get", "the credential check of an ordinary request plus one read of the key", share=0.20),
    Comparison(
        "stored",
        of="verify-same-draw",
        against="verify-1k",
        ratio=0.90,
        as_share=True,
        means="what is stored does not slow verification: phase 2's verify over phase 1's, 1,000 "
        "keys drawn in each, each against its paired floor",
    ),
    Comparison(
        "peer",
        of="verify",
        against="peer",
        ratio=20,
        against_is_keyplane=False,
        means="verifications/s per worker against the peer (Django REST framework with "
        "djangorestframework-api-key, its faster server) measured in the same run, each against "
        f"its paired floor; {PEER_PER_WORKER:,}/s per worker, as issue 5 states it, when the "
        "peer is not measured",
    ),
    Comparison(
        "workers",
        of="verify-1k-2-workers",
        against="verify-1k",
        ratio=1.0,
        paired=False,
        means="on SQLite without Redis, two workers (which learn of each other's changes from the "
        "invalidation log) verify at least as fast as one",
    ),
    RowGoal(
        "soak",
        "each operation of `python -m bench.soak` (verify, validate-key, list, create), with no error",
        p99_ms=100.0,
    ),
)

ROW_GOALS: dict[str, RowGoal] = {goal.row: goal for goal in GOALS if isinstance(goal, RowGoal)}
COMPARISONS: dict[str, Comparison] = {goal.name: goal for goal in GOALS if isinstance(goal, Comparison)}


def row_met(row: str, figures: Figures) -> bool | None:
    """Whether the row ``row`` met its goal; None when it has none."""
    goal = ROW_GOALS.get(row)
    return None if goal is None else goal.met(figures)


def describe_row(row: str) -> str:
    goal = ROW_GOALS.get(row)
    return "-" if goal is None else goal.describe()


def markdown() -> str:
    """The table as bench/README.md shows it (a test keeps the two the same)."""
    lines = ["| goal | held to | what it means |", "| --- | --- | --- |"]
    for goal in GOALS:
        if isinstance(goal, RowGoal):
            name = f"row `{goal.row}`"
        else:
            name = f"`{goal.name}`: row `{goal.of}` against `{goal.against}`"
        lines.append(f"| {name} | {goal.describe()} | {goal.means} |")
    return "\n".join(lines) + "\n"
