import gc
from collections.abc import Iterator

import pytest

from cellmon.core.runtime import YOUNG_COLLECTION_THRESHOLD, tune_garbage_collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_tuning_raises_the_young_threshold_and_freezes_what_start_up_made() -> None:
    _first, middle, oldest = gc.get_threshold()
    start_up_object: list[object] = []

    tune_garbage_collector()

    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, middle, oldest)
    assert gc.get_freeze_count() > 0
    # Frozen objects are out of every generation the collector scans.
    assert not any(item is start_up_object for item in gc.get_objects())
    made_after: list[object] = []
    assert any(item is made_after for item in gc.get_objects())
