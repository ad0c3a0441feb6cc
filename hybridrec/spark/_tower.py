"""The tower trained data-parallel through Spark's ``TorchDistributor``.

:class:`SparkTowerComponent` is :class:`~hybridrec.components.TowerComponent` whose ``fit``
runs the same training in ``num_processes`` torch processes that Spark starts
(``pyspark.ml.torch.distributor.TorchDistributor``; on the driver's machine with
``local_mode=True``, on the executors otherwise). The training data goes to every process
with the function; each process trains on its share of every epoch's batches
(:func:`hybridrec.components.tower.data_parallel`), their gradients are averaged (gloo, on the
CPU) before each optimizer step, so the processes hold the same model throughout, and the first
process's fitted tower comes back. With one process the result equals a local fit with the same
seed.
"""
from __future__ import annotations

import inspect
import logging
import os
import pickle
import tempfile
from typing import Any

from ..components import TowerComponent
from ..components.base import TrainingData

logger = logging.getLogger(__name__)

#: The parameters SparkTowerComponent adds to TowerComponent's.
_OWN = ("num_processes", "local_mode")


def train_in_group(tower: TowerComponent, data: TrainingData, path: str | None = None) -> TowerComponent | None:
    """Fit ``tower`` in the torch.distributed group ``TorchDistributor`` started.

    The first process (rank 0) returns the fitted tower, or pickles it to ``path`` and returns
    None: in local mode every process writes its return value to the same file, so there the
    others' ``None`` could replace it. The other processes return None.
    """
    import torch.distributed as dist

    from ..components.tower import data_parallel

    dist.init_process_group("gloo")
    try:
        with data_parallel():
            tower.fit(data)
        first = dist.get_rank() == 0
    finally:
        dist.destroy_process_group()
    if first and path is not None:
        with open(path, "wb") as handle:
            pickle.dump(tower, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return None
    return tower if first else None


class SparkTowerComponent(TowerComponent):
    """:class:`~hybridrec.components.TowerComponent` trained data-parallel by Spark's ``TorchDistributor``.

    Scores, saves and loads exactly as the local tower; only ``fit`` differs. It needs an
    active SparkSession (or starts ``hybridrec.spark.session()``) and torch on every machine
    that trains. Each of the ``num_processes`` processes predicts its share of each epoch's
    batches with its own negatives; gradients are averaged over the processes (gloo
    all-reduce) before every optimizer step, so a step sees ``num_processes`` batches. The
    processes train on the CPU (``device`` is ignored). ``training_curve_`` holds the first
    process's losses (its own batches). With ``num_processes=1`` the fit equals a local fit
    with the same seed.

    Parameters
    ----------
    num_processes : int, default=2
        Torch processes that train together.
    local_mode : bool, default=True
        Start them on the driver's machine (True) or on the executors, one per task (False).
    **params
        Every parameter of :class:`~hybridrec.components.TowerComponent`, with its default.
    """

    name = "spark_tower"

    def __init__(self, *, num_processes: int = 2, local_mode: bool = True, **params: Any) -> None:
        super().__init__(**params)
        self.num_processes = num_processes
        self.local_mode = local_mode

    def check_params(self) -> None:
        from .._validation import check_positive_int

        super().check_params()
        check_positive_int(self.num_processes, "num_processes", "SparkTowerComponent")
        if not isinstance(self.local_mode, bool):
            raise ValueError(f"The 'local_mode' parameter of SparkTowerComponent must be a bool. "
                             f"Got {self.local_mode!r} instead.")

    def fit(self, data: TrainingData) -> "SparkTowerComponent":
        """Train as :meth:`TowerComponent.fit` does, in ``num_processes`` processes started by Spark.

        Parameters
        ----------
        data : TrainingData
            As in :meth:`~hybridrec.components.TowerComponent.fit`.

        Returns
        -------
        SparkTowerComponent
            ``self``, holding the fitted tower of the first process.
        """
        from pyspark.ml.torch.distributor import TorchDistributor

        from ._session import session

        self.check_params()
        session()  # TorchDistributor runs in the active session
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in _OWN}
        trained = TowerComponent(**{**params, "device": "cpu"})  # gloo all-reduces CPU tensors
        logger.info("Spark tower: training in %d processes (local_mode=%s)", self.num_processes, self.local_mode)
        distributor = TorchDistributor(num_processes=int(self.num_processes), local_mode=self.local_mode, use_gpu=False)
        with tempfile.TemporaryDirectory(prefix="hybridrec-tower-") as folder:
            path = os.path.join(folder, "tower.pickle") if self.local_mode else None
            fitted = distributor.run(train_in_group, trained, data, path)
            if path is not None and os.path.exists(path):
                with open(path, "rb") as handle:
                    fitted = pickle.load(handle)  # noqa: S301 - written by this fit's own first process
        if fitted is None:
            raise RuntimeError("SparkTowerComponent: the training processes returned no model.")
        state = {k: v for k, v in vars(fitted).items() if k not in params}  # the fitted attributes
        vars(self).update(state)
        return self


# scikit-learn reads the parameters from __init__'s signature: these two, then TowerComponent's (all by keyword)
_base = inspect.signature(TowerComponent.__init__)
_self, *_tower_params = _base.parameters.values()
SparkTowerComponent.__init__.__signature__ = _base.replace(parameters=[  # type: ignore[attr-defined]
    _self,
    inspect.Parameter("num_processes", inspect.Parameter.KEYWORD_ONLY, default=2, annotation=int),
    inspect.Parameter("local_mode", inspect.Parameter.KEYWORD_ONLY, default=True, annotation=bool),
    *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in _tower_params),
])
