"""Micro-batching: requests that arrive together are ranked by one model call.

A text query's or a posted history's cost is mostly fixed per call (an encoder forward, a pass
of every component over the catalogue), so ``n`` of them in one ``recommend_for_text`` or
``recommend_new`` call cost far less than ``n`` calls. :class:`Batcher` holds each request for at
most ``wait`` seconds, then answers all those waiting (up to ``max_batch``, grouped by their
options, ranked to the largest ``k`` asked and cut per request) from one call in a worker
thread. Rankings do not depend on the batch: each request's list is the one it would get alone
(scores up to float32 rounding).
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, Callable, Hashable

from .. import TopItems


def row(top: TopItems, i: int, k: int) -> TopItems:
    """Row ``i`` of ``top``, cut to its first ``k`` items."""
    return TopItems(top.users[i:i + 1], top.positions[i:i + 1, :k], top.item_ids[i:i + 1, :k],
                    top.scores[i:i + 1, :k], top.domains[i:i + 1, :k])


class Batcher:
    """Collects concurrent requests and answers each group of equal options with one call.

    Parameters
    ----------
    rank : callable
        ``rank(payloads, k, options) -> (context, TopItems)`` with one row per payload, in order
        (for example ``recommend_for_text(texts, k=k, domain=options, output="arrays")``);
        ``context`` (the model that ranked them) is handed back with each request's row.
    wait : float, default=0.002
        Seconds a request waits for others before its batch is ranked.
    max_batch : int, default=64
        Most requests ranked by one call.
    on_batch : callable, optional
        Called with each call's number of requests (the server's metrics).
    """

    def __init__(self, rank: Callable[[list[Any], int, Hashable], tuple[Any, TopItems]], wait: float = 0.002,
                 max_batch: int = 64, on_batch: Callable[[int], None] | None = None) -> None:
        self.rank = rank
        self.wait = wait
        self.max_batch = max_batch
        self.on_batch = on_batch
        self._pending: list[tuple[Any, int, Hashable, asyncio.Future]] = []
        self._worker: asyncio.Task | None = None

    async def submit(self, payload: Any, k: int, options: Hashable) -> tuple[Any, TopItems]:
        """``(context, the request's top-k)``, ranked with the requests of equal ``options`` that arrive meanwhile."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((payload, k, options, future))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        from starlette.concurrency import run_in_threadpool

        while self._pending:
            await asyncio.sleep(self.wait)
            batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            groups: dict[Hashable, list[tuple[Any, int, Hashable, asyncio.Future]]] = defaultdict(list)
            for entry in batch:
                groups[entry[2]].append(entry)
            for options, entries in groups.items():
                if self.on_batch is not None:
                    self.on_batch(len(entries))
                try:
                    context, top = await run_in_threadpool(self.rank, [e[0] for e in entries],
                                                           max(e[1] for e in entries), options)
                except Exception as exc:  # noqa: BLE001 - settled below, request by request
                    if len(entries) == 1:
                        _settle(entries[0][3], exc=exc)
                        continue
                    # one bad request must not fail the others: rank each alone, so only it gets the error
                    for entry in entries:
                        try:
                            context, top = await run_in_threadpool(self.rank, [entry[0]], entry[1], options)
                            _settle(entry[3], result=(context, top))
                        except Exception as alone:  # noqa: BLE001 - the model's error, for this request only
                            _settle(entry[3], exc=alone)
                    continue
                for i, entry in enumerate(entries):
                    _settle(entry[3], result=(context, row(top, i, entry[1])))


def _settle(future: asyncio.Future, result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():  # the client went away
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
