"""Request metrics (Prometheus text at ``/metrics``) and access logs that never hold texts or ids.

:class:`Instrumented` wraps the ASGI app: one counter of requests and one latency histogram per
(method, route template, status), the route being the template (``/items/{item_id}``), never
the raw path, so ids cannot blow up the number of series and no query string is ever recorded.
Each request also writes one access-log line (``hybridrec.access`` logger, INFO) with the same
fields and its milliseconds; user texts, queries and ids never reach it.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

access_log = logging.getLogger("hybridrec.access")

#: Latency buckets in seconds: 0.5 ms to 5 s.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The server's Prometheus registry: request counts, latencies and the model's size and version.

    Parameters
    ----------
    model_info : callable
        Returns ``{"version", "items", "users"}`` of the model now served (read at each scrape).

    Notes
    -----
    Under ``serve(workers=N)`` each worker process counts its own requests into files of a folder
    shared by all of them (prometheus-client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` is
    set before any worker imports it), and a scrape of any worker adds them all up.
    """

    def __init__(self, model_info: Callable[[], dict[str, Any]]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        self.registry = CollectorRegistry()
        self.multiprocess = values.ValueClass is not values.MutexValue
        self.requests = Counter("hybridrec_requests", "Requests served", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("hybridrec_request_seconds", "Request latency", ["method", "route"],
                                 buckets=BUCKETS, registry=self.registry)
        self.query_batches = Histogram("hybridrec_batch_size", "Requests ranked by one model call", ["kind"],
                                       buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry)
        mode = {"multiprocess_mode": "livemax"}
        self._items = Gauge("hybridrec_model_items", "Items in the served model", registry=self.registry, **mode)
        self._users = Gauge("hybridrec_model_users", "Users in the served model", registry=self.registry, **mode)
        self._version = Gauge("hybridrec_model_info", "The served model (value 1)", ["version"],
                              registry=self.registry, **mode)
        if not self.multiprocess:  # read at each scrape (fold-in adds users)
            self._items.set_function(lambda: model_info()["items"])
            self._users.set_function(lambda: model_info()["users"])
        self._model_info = model_info
        self.refresh()

    def refresh(self) -> None:
        """Point ``hybridrec_model_info`` (and, with workers, the size gauges) at the model now served."""
        info = self._model_info()
        self._version.clear()
        self._version.labels(str(info["version"])).set(1)
        if self.multiprocess:  # workers never change their model, so its size is set once
            self._items.set(info["items"])
            self._users.set(info["users"])

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def text(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if not self.multiprocess:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)


class Instrumented:
    """ASGI middleware: times every HTTP request into :class:`Metrics` and writes its access-log line."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"  # never the raw path: it may hold ids
            self.metrics.observe(scope["method"], template, status[0], seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(json.dumps({"method": scope["method"], "route": template, "status": status[0],
                                            "ms": round(seconds * 1000, 3)}))
