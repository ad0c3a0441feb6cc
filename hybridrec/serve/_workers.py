"""``serve(workers=N)``: N uvicorn processes over one memory-mapped model file and one copy of the lists.

A short-lived child process loads the model file, computes every known user's lists once with
all cores, writes them to a temporary folder (:meth:`KnownLists.save`) and exits, so the memory
that took is given back before any worker starts. uvicorn then starts ``N`` worker processes;
each calls :func:`worker_app`, which maps the same model file (:func:`hybridrec.load` with
``mmap=True``) and the same lists, so the large arrays are in memory once, shared through the
page cache, whatever ``N``. The parent only supervises: it never loads the model. Request counts
are merged across workers (prometheus-client's multiprocess mode, in a second temporary folder).

A worker's model never changes: fold-in, live events and reload keep state in one process,
which other workers would not see, so :func:`check_workers` refuses them with ``workers > 1``.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The environment variable that carries a worker's settings (JSON) from the parent.
CONFIG_ENV = "HYBRIDREC_SERVE_WORKER"


def check_workers(workers: int, model_path: Any, model_format: str, limits: Any) -> None:
    """Refuse ``workers`` settings a multi-process server cannot honour, before anything starts."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer. Got {workers!r}.")
    if workers == 1:
        return
    if model_path is None or model_format != "hybridrec":
        raise ValueError("serve(workers > 1) maps the model from its file: give model_path, a file in the "
                         "safe format (format='hybridrec').")
    shared = [name for name in ("allow_fold_in", "allow_updates", "allow_reload") if getattr(limits, name)]
    if shared:
        raise ValueError(f"serve(workers > 1) cannot {', '.join(shared)}: each worker would change only its own "
                         "copy of the model, and the others would not see it. Use one worker for those, or "
                         "restart the workers on a new model file.")


def _write_lists(model_path: str, max_k: int, folder: str) -> None:
    """In a child process: load the model, compute its known users' lists, save them to ``folder``."""
    from .. import load
    from ._lists import KnownLists

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    KnownLists(load(model_path, mmap=True), max_k).save(folder)


def run_workers(model_path: str | Path, limits: Any, workers: int, host: str, port: int,
                log_level: str, threads: int, encoder_backend: str) -> None:
    """Compute the lists once (in a child process), then run ``workers`` uvicorn processes over the mapped model (blocks)."""
    import multiprocessing

    import uvicorn

    scratch = Path(tempfile.mkdtemp(prefix="hybridrec-serve-"))
    try:
        child = multiprocessing.get_context("spawn").Process(
            target=_write_lists, args=(str(Path(model_path).resolve()), limits.max_k, str(scratch / "lists")))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"Computing the known users' lists of {model_path} failed (exit code {child.exitcode}); "
                               "its error is above.")
        (scratch / "metrics").mkdir()
        config = {"model": str(Path(model_path).resolve()), "lists": str(scratch / "lists"), "threads": threads,
                  "encoder_backend": encoder_backend, "limits": vars(limits)}
        os.environ[CONFIG_ENV] = json.dumps(config)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(scratch / "metrics")
        logger.info("hybridrec serve: %d workers over %s", workers, model_path)
        uvicorn.run("hybridrec.serve._workers:worker_app", factory=True, workers=workers, host=host, port=port,
                    log_level=log_level, access_log=False)
    finally:
        os.environ.pop(CONFIG_ENV, None)
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(scratch, ignore_errors=True)


def worker_app() -> Any:
    """The app of one worker process (uvicorn's factory): the mapped model and lists of its parent."""
    from .. import load
    from ._app import Limits, create_app
    from ._lists import KnownLists
    from ._served import pin_threads

    config = json.loads(os.environ[CONFIG_ENV])
    model = load(config["model"], mmap=True)
    lists = KnownLists.mapped(model, config["lists"])
    app = create_app(model, Limits(**config["limits"]), lists=lists, model_path=config["model"],
                     encoder_backend=config["encoder_backend"])
    pin_threads(config["threads"])
    return app
