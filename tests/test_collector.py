"""The server's garbage collector: what was loaded is frozen, and every pause is counted."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from agi.collector import THRESHOLDS, Pauses, steady_collector


@pytest.fixture
def pauses() -> Iterator[Pauses]:
    thresholds = gc.get_threshold()
    counted = steady_collector()
    yield counted
    gc.callbacks.remove(counted)
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_what_was_loaded_is_frozen_out_of_the_collections(pauses: Pauses) -> None:
    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold() == THRESHOLDS
    assert pauses.counts == [0, 0, 0]


@pytest.mark.parametrize("generation", [0, 1, 2])
def test_each_collection_is_counted_with_its_pause(pauses: Pauses, generation: int) -> None:
    gc.collect(generation)

    assert pauses.counts[generation] == 1
    assert pauses.seconds[generation] > 0
    assert pauses.longest[generation] == pauses.seconds[generation]
    assert f"generation {generation} 1x, " in pauses.summary()
