"""Time-ordered ids (``keyplane.kit.ids.uuid7``): the properties paging and the event log
rely on, and random bits that no two processes share."""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid

import pytest

from keyplane.kit import ids
from keyplane.kit.ids import uuid7

RANDOM_BITS = (1 << 62) - 1


def test_an_id_is_a_version_7_rfc_uuid_carrying_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after


def test_ids_made_one_after_another_strictly_increase() -> None:
    made = [uuid7() for _ in range(3 * ids.DRAWN)]  # past a few refills of the drawn bits
    assert all(earlier < later for earlier, later in itertools.pairwise(made))
    assert all(each.version == 7 and each.variant == uuid.RFC_4122 for each in made)


def test_ids_made_in_many_threads_at_once_are_all_different() -> None:
    made: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def make(into: list[uuid.UUID]) -> None:
        into.extend(uuid7() for _ in range(2_000))

    threads = [threading.Thread(target=make, args=(each,)) for each in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [one for each in made for one in each]
    assert len(set(every)) == len(every) == 16_000


def test_ids_of_different_milliseconds_carry_different_random_bits() -> None:
    seen = set()
    for _ in range(20):
        seen.add(uuid7().int & RANDOM_BITS)
        time.sleep(0.002)  # a new millisecond: the random bits are drawn, not counted up
    assert len(seen) == 20


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_the_random_bits_its_parent_drew() -> None:
    uuid7()  # the parent has bits drawn and not yet used
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child process)
        os.write(writing, (uuid7().int & RANDOM_BITS).to_bytes(8, "big"))
        os._exit(0)
    os.close(writing)
    theirs = int.from_bytes(os.read(reading, 8), "big")
    os.close(reading)
    os.waitpid(child, 0)
    ours = uuid7().int & RANDOM_BITS
    assert theirs != ours
