"""Process-wide memos stay within their bound, whatever clients send."""

from __future__ import annotations

import pytest

import keyplane.api_keys.lean
import keyplane.hot
import keyplane.licenses.lean
from keyplane.kit.memo import MEMOS, Memo


def test_a_full_memo_starts_over_rather_than_grow() -> None:
    memo: Memo[int, str] = Memo("test", 3, listed=False)
    for number in range(3):
        memo.put(number, str(number))
    assert len(memo) == 3
    memo.put(1, "one")  # a key already there replaces its value, nothing is dropped
    assert memo == {0: "0", 1: "one", 2: "2"}
    memo.put(7, "7")
    assert memo == {7: "7"}


def test_keep_gives_the_first_value_kept() -> None:
    memo: Memo[str, frozenset[str]] = Memo("test", 2, listed=False)
    first = memo.keep("a", frozenset({"x"}))
    assert memo.keep("a", frozenset({"x"})) is first


def test_a_memo_needs_room() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Memo("test", 0, listed=False)


def test_every_module_memo_is_listed_with_a_bound() -> None:
    names = {memo.name for memo in MEMOS}
    assert {
        "principals",
        "version headers",
        "verification answers without a key",
        "validate-key content types by Accept",
        "license statuses as JSON",
        "validation results as JSON",
        "scope sets of credentials",
        "account ids of credentials",
        "credential ids as text",
    } <= names
    assert all(memo.bound > 0 for memo in MEMOS)
    assert keyplane.hot._PRINCIPALS in MEMOS
    assert keyplane.api_keys.lean._SERVED in MEMOS
