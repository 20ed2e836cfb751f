"""The benchmark's goal table (bench/goals.py): how a row and a comparison are judged, and that
bench/README.md shows the very table the benchmark uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.goals import (
    COMPARISONS,
    GOALS,
    ROW_GOALS,
    ROWS,
    Comparison,
    Figures,
    RowGoal,
    describe_row,
    markdown,
    row_met,
)

SHARE_AND_P99 = RowGoal("verify", "test", share=0.60, p99_ms=10.0)
SHARE_ONLY = RowGoal("get", "test", share=0.20)
P99_ONLY = RowGoal("soak", "test", p99_ms=100.0)


@pytest.mark.parametrize(
    ("goal", "figures", "met"),
    [
        (SHARE_AND_P99, Figures(rps=6_000, p99_ms=9.9, floor=10_000), True),
        (SHARE_AND_P99, Figures(rps=6_000, p99_ms=10.0, floor=10_000), False),  # p99 must be under
        (SHARE_AND_P99, Figures(rps=5_999, p99_ms=5.0, floor=10_000), False),
        (SHARE_AND_P99, Figures(rps=9_000, p99_ms=5.0, floor=None), False),  # a share needs a floor
        (SHARE_AND_P99, Figures(rps=9_000, p99_ms=5.0, floor=0.0), False),
        (SHARE_AND_P99, Figures(rps=9_000, p99_ms=5.0, floor=10_000, errors=1), False),
        (SHARE_AND_P99, Figures(rps=9_000, p99_ms=5.0, floor=10_000, problem="check: 500"), False),
        (SHARE_ONLY, Figures(rps=2_000, p99_ms=900.0, floor=10_000), True),  # no p99 bound
        (SHARE_ONLY, Figures(rps=1_999, p99_ms=1.0, floor=10_000), False),
        (P99_ONLY, Figures(rps=1.0, p99_ms=99.9), True),  # no floor needed
        (P99_ONLY, Figures(rps=1.0, p99_ms=100.0), False),
        (P99_ONLY, Figures(rps=1.0, p99_ms=1.0, errors=3), False),
    ],
)
def test_a_row_goal_is_met_by_every_bound_and_no_error(goal: RowGoal, figures: Figures, met: bool) -> None:
    assert goal.met(figures) is met


@pytest.mark.parametrize(
    ("goal", "described"),
    [
        (SHARE_AND_P99, ">= 60% of floor, p99 < 10 ms"),
        (SHARE_ONLY, ">= 20% of floor"),
        (P99_ONLY, "p99 < 100 ms"),
    ],
)
def test_a_row_goal_reads_as_printed(goal: RowGoal, described: str) -> None:
    assert goal.describe() == described


@pytest.mark.parametrize(
    ("row", "figures", "met", "described"),
    [
        ("verify", Figures(rps=7_000, p99_ms=8.0, floor=10_000), True, ">= 60% of floor, p99 < 10 ms"),
        ("verify", Figures(rps=5_000, p99_ms=8.0, floor=10_000), False, ">= 60% of floor, p99 < 10 ms"),
        ("validate-key", Figures(rps=2_600, p99_ms=80.0, floor=10_000), True, ">= 25% of floor"),
        ("get", Figures(rps=1_000, p99_ms=8.0, floor=10_000), False, ">= 20% of floor"),
        ("ping", Figures(rps=1.0, p99_ms=1_000.0, floor=10_000, errors=5), None, "-"),  # no goal
        ("verify-1k", Figures(rps=1.0, p99_ms=1.0), None, "-"),
    ],
)
def test_the_table_judges_each_row_or_has_no_goal_for_it(
    row: str, figures: Figures, met: bool | None, described: str
) -> None:
    assert row_met(row, figures) is met
    assert describe_row(row) == described


PAIRED = Comparison("stored", of="a", against="b", ratio=0.90, means="test", as_share=True)
RAW = Comparison("workers", of="a", against="b", ratio=1.0, means="test", paired=False)
PEER = Comparison("peer", of="a", against="b", ratio=20, means="test", against_is_keyplane=False)


@pytest.mark.parametrize(
    ("goal", "of", "against", "figure", "met"),
    [
        # Each against its own floor: 50% of its floor over 50% of its floor.
        (PAIRED, Figures(5_000, 9.0, floor=10_000), Figures(8_000, 9.0, floor=16_000), 1.0, True),
        (PAIRED, Figures(4_400, 9.0, floor=10_000), Figures(5_000, 9.0, floor=10_000), 0.88, False),
        # Without both floors, requests/s alone.
        (PAIRED, Figures(4_500, 9.0, floor=None), Figures(5_000, 9.0, floor=10_000), 0.90, True),
        (PAIRED, Figures(5_000, 9.0, floor=10_000), Figures(5_000, 9.0, floor=10_000, errors=2), 1.0, False),
        (PAIRED, Figures(5_000, 9.0, floor=10_000, problem="x"), Figures(5_000, 9.0, 10_000), 1.0, False),
        (PAIRED, Figures(5_000, 9.0), Figures(0.0, 9.0), None, None),  # nothing to compare with
        (RAW, Figures(9_254, 99.0), Figures(6_163, 98.0, floor=13_427), 9_254 / 6_163, True),
        (RAW, Figures(5_000, 9.0), Figures(6_000, 9.0, floor=12_000), 5_000 / 6_000, False),
        (RAW, Figures(6_000, 9.0, errors=1), Figures(6_000, 9.0), 1.0, False),
        # The peer's errors are not Keyplane's; Keyplane's count.
        (PEER, Figures(10_000, 9.0, floor=20_000), Figures(500, 200.0, floor=20_000, errors=7), 20.0, True),
        (PEER, Figures(10_000, 9.0, floor=20_000, errors=1), Figures(500, 200.0, floor=20_000), 20.0, False),
        (PEER, Figures(9_000, 9.0, floor=15_000), Figures(500, 200.0, floor=20_000), 24.0, True),
        # The peer not measured: the 1,200/s issue 5 states, which has no floor.
        (PEER, Figures(18_000, 9.0, floor=30_000), Figures(1_200, float("nan")), 15.0, False),
    ],
)
def test_a_comparison_gives_its_figure_and_whether_it_met_the_goal(
    goal: Comparison, of: Figures, against: Figures, figure: float | None, met: bool | None
) -> None:
    found = goal.figure(of, against)
    if figure is None:
        assert found is None
    else:
        assert found == pytest.approx(figure)
    assert goal.met(of, against) is met


def test_the_issue_s_goals_are_in_the_table() -> None:
    assert (ROW_GOALS["verify"].share, ROW_GOALS["verify"].p99_ms) == (0.60, 10.0)
    assert ROW_GOALS["validate-key"].share == 0.25
    assert ROW_GOALS["get"].share == 0.20
    assert ROW_GOALS["soak"].p99_ms == 100.0
    assert (COMPARISONS["stored"].ratio, COMPARISONS["stored"].describe()) == (0.90, ">= 90%")
    assert (COMPARISONS["peer"].ratio, COMPARISONS["peer"].describe()) == (20, ">= 20x")
    assert (COMPARISONS["workers"].ratio, COMPARISONS["workers"].paired) == (1.0, False)


def test_every_goal_names_a_row_the_benchmark_makes() -> None:
    for goal in GOALS:
        if isinstance(goal, RowGoal):
            assert goal.row in ROWS | {"soak"}, goal
        else:
            assert {goal.of, goal.against} <= ROWS, goal
    names = [goal.row if isinstance(goal, RowGoal) else goal.name for goal in GOALS]
    assert len(names) == len(set(names))


def test_the_readme_shows_the_table_the_benchmark_uses() -> None:
    readme = (Path(__file__).parent.parent / "bench" / "README.md").read_text()
    assert markdown() in readme
