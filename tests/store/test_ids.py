"""Row ids: ULIDs that sort in the order they were given out, so id order is creation order."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

from nurture.store.ids import new_id


def test_ids_sort_in_the_order_they_were_made_even_within_one_millisecond() -> None:
    ids = [new_id() for _ in range(20_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", i) for i in ids)


def test_ids_made_on_many_threads_are_unique() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        batches = list(pool.map(lambda _: [new_id() for _ in range(2_000)], range(8)))
    everything = [i for batch in batches for i in batch]
    assert len(set(everything)) == len(everything)
    assert all(batch == sorted(batch) for batch in batches)


def test_an_id_is_the_milliseconds_it_was_made_at_then_random_bits_in_crockford_base32() -> None:
    to_digits = str.maketrans("0123456789ABCDEFGHJKMNPQRSTVWXYZ", "0123456789abcdefghijklmnopqrstuv")
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    value = int(made.translate(to_digits), 32)
    assert before <= value >> 80 <= after
    assert value < 2**128
