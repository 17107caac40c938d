"""The sequencer alone: no database, no channel layer."""

from realtime.sequencer import MAX_PENDING, Sequencer


def update(sequence: int) -> dict:
    return {"sequence": sequence}


def test_in_order_updates_pass_straight_through():
    sequencer = Sequencer()
    sequencer.reset(5)
    sequencer.add(update(6))
    assert sequencer.ready() == [update(6)] and not sequencer.waiting


def test_an_early_update_waits_for_the_missing_one():
    sequencer = Sequencer()
    sequencer.reset(5)
    sequencer.add(update(7))
    assert sequencer.ready() == [] and sequencer.waiting
    sequencer.add(update(6))
    assert sequencer.ready() == [update(6), update(7)] and sequencer.sequence == 7 and not sequencer.waiting


def test_what_the_snapshot_includes_and_duplicates_are_dropped():
    sequencer = Sequencer()
    sequencer.add(update(3))  # arrived before the snapshot
    sequencer.add(update(4))
    sequencer.reset(3)
    assert sequencer.ready() == [update(4)]
    sequencer.add(update(4))
    sequencer.add(update(2))
    assert sequencer.ready() == [] and not sequencer.waiting


def test_nothing_is_handed_on_before_the_first_snapshot():
    sequencer = Sequencer()
    sequencer.add(update(1))
    assert sequencer.ready() == [] and sequencer.waiting


def test_a_long_wait_overflows():
    sequencer = Sequencer()
    sequencer.reset(0)
    for sequence in range(2, MAX_PENDING + 3):
        sequencer.add(update(sequence))
    assert sequencer.ready() == [] and sequencer.overflowing


def test_skipping_goes_on_from_the_earliest_update_held():
    sequencer = Sequencer()
    sequencer.reset(5)
    sequencer.add(update(9))
    sequencer.add(update(8))
    sequencer.skip()
    assert sequencer.ready() == [update(8), update(9)] and not sequencer.waiting
