"""Live events: interactions posted to a running server, reflected in the user's next request.

The model is never changed. :class:`Overlay` keeps, per user, the events posted since the model
was loaded; a user with events is answered from their whole history, in order (the model's
stored events, then the posted ones, newest last, so the sequence tower reads them as the most
recent) through ``recommend_new``, which leaves out every item in it. Writers take turns on a
small lock and store a new tuple for the user in one assignment; readers never lock.

:func:`with_events` is the model with the overlay's events added (``add_interactions``), which
``POST /admin/snapshot`` saves; a reload of that file drops the events it holds from the overlay.
"""
from __future__ import annotations

import copy
import threading
from typing import Any, Hashable

import numpy as np
import pandas as pd


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

    def copy(self) -> dict[Hashable, tuple[tuple[Hashable, float], ...]]:
        """Every user's events now (a snapshot: later posts do not change it)."""
        with self._write:
            return dict(self._events)

    def drop(self, taken: dict[Hashable, tuple[tuple[Hashable, float], ...]]) -> None:
        """Forget the events in ``taken`` (an earlier :meth:`copy`); events posted since stay."""
        with self._write:
            for user, events in taken.items():
                rest = self._events.get(user, ())[len(events):]
                if rest:
                    self._events[user] = rest
                else:
                    self._events.pop(user, None)

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


def events_frame(model: Any, events: list[tuple[Hashable, Hashable, float]]) -> pd.DataFrame:
    """``(user, item, weight)`` events as a history table with the model's column names, in order.

    The weight goes in the fitted weight column (a model fitted without one ignores it).
    """
    cols = model.columns_
    weight = cols.get("weight") or "weight"
    return pd.DataFrame(events, columns=[cols["user"], cols["item"], weight])


def with_events(model: Any, taken: dict[Hashable, tuple[tuple[Hashable, float], ...]]) -> Any:
    """A shallow copy of ``model`` with the events of ``taken`` added to their users; ``model`` is unchanged."""
    out = copy.copy(model)
    rows = [(user, item, weight) for user, events in taken.items() for item, weight in events]
    return out.add_interactions(events_frame(model, rows)) if rows else out
