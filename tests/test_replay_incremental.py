"""`Engine.replayer()`: a log replayed as it grows equals the log replayed whole.

The testing kit checks "replay equals live" after every step by feeding each step's
events to one replayer, instead of replaying the whole log each time. It must agree with
`Engine.replay` at every prefix that ends on a whole outcome, and refuse what replay
refuses.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow.errors import ReplayError
from tests.replay_logs import engine_for, log

NAMES = ["repair", "repair_late", "repair_2027", "ticket"]


def _batches(events):
    """The log cut where one outcome ends: a person's event closes the clock's before it."""
    out, current = [], []
    for event in events:
        current.append(event)
        if event.kind in ("started", "fired"):
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def _feed_all(replayer, batches):
    for batch in batches:
        replayer.feed(batch)


@pytest.mark.parametrize("name", NAMES)
def test_feeding_outcome_by_outcome_equals_replaying_every_prefix(name):
    engine, events = engine_for(name), log(name)
    replayer = engine.replayer()
    done = []
    for batch in _batches(events):
        done.extend(batch)
        assert replayer.feed(batch) == engine.replay(done)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(NAMES), data=st.data())
def test_a_tampered_event_is_refuted_incrementally_as_replay_refutes_it(name, data):
    engine, events = engine_for(name), log(name)
    i = data.draw(st.integers(1, len(events) - 1), label="tampered")
    tampered = [
        *events[:i],
        events[i].model_copy(update={"seq": events[i].seq + 1}),
        *events[i + 1 :],
    ]
    with pytest.raises(ReplayError) as whole:
        engine.replay(tampered)
    with pytest.raises(ReplayError) as fed:
        _feed_all(engine.replayer(), _batches(tampered))
    assert fed.value.seq == whole.value.seq
    assert str(fed.value) == str(whole.value)
