"""Row ids: ULIDs that sort in the order they were given out, so id order is creation order."""

from __future__ import annotations

import re
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
