"""A SparkSession set up for hybridrec: Java checked, the driver's Python on the workers, BLAS capped."""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from typing import Any, Mapping

from .._optional import SparkSetupError

logger = logging.getLogger(__name__)

#: Spark 4 runs on Java 17 or later.
MIN_JAVA = 17
_INSTALL = ("Install a Java 17+ runtime (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; "
            "macOS: brew install openjdk@17) and make `java` reachable through JAVA_HOME or PATH.")


def _java_binary() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = os.path.join(home, "bin", "java")
        if os.path.exists(candidate):
            return candidate
    return shutil.which("java")


def java_version() -> int | None:
    """The major version of the Java that Spark would start (``JAVA_HOME``, else ``PATH``), or None."""
    java = _java_binary()
    if java is None:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major  # "1.8" is Java 8


def check_java() -> int:
    """Raise :class:`SparkSetupError` unless Java 17 or later is reachable; return its major version."""
    version = java_version()
    if version is None:
        raise SparkSetupError(f"Spark needs Java {MIN_JAVA} or later, and no `java` was found. {_INSTALL}")
    if version < MIN_JAVA:
        raise SparkSetupError(f"Spark 4 needs Java {MIN_JAVA} or later; the `java` found is Java {version}. {_INSTALL}")
    return version


def session(master: str = "local[2]", app_name: str = "hybridrec", threads_per_task: int = 1,
            config: Mapping[str, Any] | None = None) -> Any:
    """Build, or reuse, a SparkSession that hybridrec's Spark functions can run on.

    Parameters
    ----------
    master : str, default="local[2]"
        Spark master URL: ``local[N]`` on this machine, or a cluster's.
    app_name : str, default="hybridrec"
    threads_per_task : int, default=1
        BLAS and OpenMP threads of every Python worker (``OMP_NUM_THREADS`` and friends): Spark
        already runs one task per core, and numpy or torch threads on top of that oversubscribe
        the cores.
    config : dict, optional
        Further Spark settings (``{"spark.driver.memory": "4g"}``).

    Returns
    -------
    pyspark.sql.SparkSession

    Raises
    ------
    SparkSetupError
        Java is missing or older than 17, or pyspark is not installed.

    Notes
    -----
    ``PYSPARK_PYTHON`` and ``PYSPARK_DRIVER_PYTHON`` are set to the running interpreter, so the
    workers import the same hybridrec, numpy and torch as the driver (a different ``python`` on
    ``PATH`` is a classic cause of workers failing on import).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkSetupError('hybridrec.spark needs pyspark: pip install "hybridrec[spark]"') from None
    check_java()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    threads = str(int(threads_per_task))
    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "8"))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
        value = "false" if var == "TOKENIZERS_PARALLELISM" else threads
        builder = builder.config(f"spark.executorEnv.{var}", value)
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    logger.info("Spark %s session on %s", spark.version, spark.sparkContext.master)
    return spark
