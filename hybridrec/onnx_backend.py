"""A quantised CPU backend for :class:`~hybridrec.TextEncoder`: the transformer in ONNX, int8 weights.

``TextEncoder(backend="onnx-int8")`` exports the sentence-transformer's transformer once with
``torch.onnx`` (the TorchScript exporter: no extra dependency), quantises its weights to int8
with ``onnxruntime.quantization.quantize_dynamic``, keeps both files in the cache folder and
runs them with onnxruntime afterwards. Tokenisation, truncation, pooling and normalisation are
the sentence-transformer's own settings. Why not sentence-transformers' ``[onnx]`` extra: it
pulls optimum, which pins transformers versions; this path needs only ``onnxruntime`` and
``onnx`` (``pip install "hybridrec[onnx]"``).
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Backends of TextEncoder.
BACKENDS = ("torch", "onnx-int8")
#: Version of the export recipe; part of the folder name, so a new recipe never reads an old file.
_RECIPE = 2


def installed() -> bool:
    """Whether the onnx-int8 backend can run here (onnxruntime and onnx are importable)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def _require() -> tuple[Any, Any]:
    try:
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: F401
    except ImportError as exc:
        raise ImportError('TextEncoder(backend="onnx-int8") needs onnxruntime and onnx: '
                          'pip install "hybridrec[onnx]".') from exc
    return onnxruntime, quantize_dynamic


class OnnxInt8Model:
    """The int8 ONNX transformer of a loaded sentence-transformer, with its tokenizer and pooling.

    Parameters
    ----------
    st_model : SentenceTransformer
        The loaded model (a transformer, a mean or CLS pooling layer, optionally Normalize).
    folder : path
        Where the exported files live (created on first use, then reused).
    """

    def __init__(self, st_model: Any, folder: str | os.PathLike) -> None:
        onnxruntime, _ = _require()
        modules = list(st_model)
        self.transformer = modules[0]
        pooling = modules[1] if len(modules) > 1 else None
        mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers >= 5
        if mode is None and hasattr(pooling, "get_pooling_mode_str"):
            mode = pooling.get_pooling_mode_str()
        if mode not in ("mean", "cls"):
            raise ValueError(f'TextEncoder(backend="onnx-int8") supports mean or CLS pooling; this model pools '
                             f"with {mode!r}. Use backend=\"torch\".")
        self.pooling = mode
        self.normalize = any(type(m).__name__ == "Normalize" for m in modules[2:])
        self.tokenizer = st_model.tokenizer
        self.max_seq_length = int(st_model.max_seq_length)
        path = Path(folder) / "model-int8.onnx"
        if not path.exists():
            self._export(Path(folder))
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _export(self, folder: Path) -> None:
        """Export and quantise into a temporary folder, then move it into place (never half-written)."""
        import torch

        _, quantize_dynamic = _require()
        from onnxruntime.quantization import QuantType

        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".onnx-", dir=folder.parent))
        try:
            sample = self.tokenizer(["a short example", "another one"], padding=True, return_tensors="pt")
            names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
            model = _Positional(self.transformer.auto_model.eval(), names)
            axes = {n: {0: "batch", 1: "tokens"} for n in names}
            axes["last_hidden_state"] = {0: "batch", 1: "tokens"}
            logger.info("Exporting the text model to ONNX (once) in %s", folder)
            with torch.no_grad(), warnings.catch_warnings(), _QuietRoot():
                # The tracer notes branches it fixes for the sample's shapes; none changes the result
                # (the float export matched torch to cosine 1.0 on 500 titles of mixed lengths).
                warnings.simplefilter("ignore")
                torch.onnx.export(model, tuple(sample[n] for n in names), str(staging / "model.onnx"),
                                  input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                                  opset_version=17, dynamo=False)
                # Weights only (activation x activation products such as attention stay float), one
                # scale per output channel: mean cosine to torch 0.992 on 1,000 Amazon titles, 0.961
                # with one scale per tensor and every MatMul quantised.
                quantize_dynamic(str(staging / "model.onnx"), str(staging / "model-int8.onnx"),
                                 weight_type=QuantType.QInt8, per_channel=True,
                                 extra_options={"MatMulConstBOnly": True})
            (staging / "model.onnx").unlink()  # only the int8 model is used
            try:
                os.replace(staging, folder)
            except OSError:  # another process finished first: keep theirs
                if not (folder / "model-int8.onnx").exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def encode(self, texts: list[str], batch_size: int, show_progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts`` (float32), in order; batches of similar length."""
        from tqdm import tqdm

        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = None
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc="encode (onnx-int8)", unit="batch", disable=not show_progress):
            pick = order[start:start + batch_size]
            batch = self.tokenizer([texts[i] for i in pick], padding=True, truncation=True,
                                   max_length=self.max_seq_length, return_tensors="np")
            feed = {n: batch[n].astype(np.int64) for n in self.inputs}
            hidden = self.session.run(None, feed)[0]
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"][:, :, None].astype(np.float32)
                pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            if self.normalize:
                pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if out is None:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[pick] = pooled
        return np.zeros((0, 0), dtype=np.float32) if out is None else out


class _QuietRoot(logging.Filter):
    """Drops onnxruntime's advice on the root logger while quantising (it logs there, not to its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")

    def __enter__(self) -> "_QuietRoot":
        logging.getLogger().addFilter(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        logging.getLogger().removeFilter(self)


def _Positional(model: Any, names: list[str]) -> Any:
    """``model`` called with its inputs by position (the exporter's way), returning the last hidden state."""
    import torch

    class Positional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs))).last_hidden_state

    return Positional()


def export_folder(cache_dir: str | os.PathLike, model_key: str) -> Path:
    """The folder of a model's exported files under ``cache_dir`` (one per model and recipe)."""
    digest = hashlib.sha256(f"{model_key}|recipe{_RECIPE}".encode()).hexdigest()[:16]
    return Path(cache_dir) / "onnx" / digest
