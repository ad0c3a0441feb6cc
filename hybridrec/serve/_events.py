"""Live events: interactions posted to a running server, reflected in the user's next request.

The model is never changed. :class:`Overlay` keeps, per user, the events posted since the model
was loaded; a user with events is answered from their whole history, in order (the model's
stored events, then the posted ones, newest last, so the sequence tower reads them as the most
recent) through ``recommend_new``, which leaves out every item in it. Writers take turns on a
small lock and store a new tuple for the user in one assignment; readers never lock.
"""
from __future__ import annotations

import threading
from typing import Any, Hashable

import numpy as np


class Overlay:
    """Events posted per user (item id, weight), oldest first."""

    def __init__(self) -> None:
        self._events: dict[Hashable, tuple[tuple[Hashable, float], ...]] = {}
        self._write = threading.Lock()

    def add(self, user: Hashable, events: list[tuple[Hashable, float]]) -> int:
        """Append ``events`` to the user's; return how many the user now has."""
        with self._write:
            updated = self._events.get(user, ()) + tuple(events)
            self._events[user] = updated
        return len(updated)

    def get(self, user: Hashable) -> tuple[tuple[Hashable, float], ...]:
        return self._events.get(user, ())

    def __contains__(self, user: Hashable) -> bool:
        return user in self._events

    def __len__(self) -> int:
        return len(self._events)


def stored_events(model: Any, user: Hashable) -> tuple[list[tuple[Hashable, float]], str | None]:
    """A known user's events as the model holds them, oldest first, and the user's text.

    Repeated events of an item share its stored weight so that the fitted ``duplicates`` rule
    gives it back (``sum``: equal shares; ``max``: the weight each time); a user stored without
    an order gets their items in catalogue order.
    """
    data = model.data_
    row = data.user_ids.get_loc(user)
    matrix = data.matrix
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    weight = dict(zip(matrix.indices[start:end].tolist(), matrix.data[start:end].tolist()))
    sequence = data.sequences.user(row) if len(data.sequences) else np.zeros(0, dtype=np.int64)
    if not len(sequence):
        sequence = matrix.indices[start:end]
    items, counts = np.unique(sequence, return_counts=True)
    shares = dict(zip(items.tolist(), counts.tolist())) if model.columns_.get("duplicates", "sum") == "sum" else {}
    ids = data.item_ids
    events = [(ids[i], weight[i] / shares.get(i, 1)) for i in sequence.tolist() if i in weight]
    text = data.user_texts[row] if data.user_texts is not None else None
    return events, (text or None)
