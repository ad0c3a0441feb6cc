"""Fine-tuning the text encoder on the interactions: pairs of texts users chose one after the other.

:func:`text_pairs` takes (history item text, next item text) pairs from each user's ordered
events; :func:`fine_tune` trains the sentence-transformer on them with sentence-transformers' own
trainer (``SentenceTransformerTrainer``) and a contrastive loss (``MultipleNegativesRankingLoss``:
every other pair of the batch is a negative; batches without duplicate texts), within a time
budget, and saves the tuned model to a folder that ``TextEncoder(model=folder)`` loads. It is
optional and not a default: on two CPU cores it costs minutes per thousand steps, and whether it
helps depends on the data (see the README). The trainer needs ``datasets`` and ``accelerate``
(``pip install "hybridrec[finetune]"``).
"""
from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ._validation import check_positive_int

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .data import InteractionData
    from .text import TextEncoder

logger = logging.getLogger(__name__)


def text_pairs(data: "InteractionData", max_pairs: int | None = 20_000, seed: int = 0) -> list[tuple[str, str]]:
    """(earlier item text, next item text) for consecutive events of every user, in their order.

    Pairs with an empty text or the same text twice are left out; at most ``max_pairs`` are kept
    (a seeded sample).
    """
    seq = data.sequences
    owners = seq.owners()
    first = np.ones(len(seq.items), dtype=bool)
    first[seq.indptr[:-1][seq.lengths() > 0]] = False
    nxt = np.flatnonzero(first)  # events with an earlier event of the same user
    texts = np.asarray(data.item_texts, dtype=object)
    left, right = texts[seq.items[nxt - 1]], texts[seq.items[nxt]]
    keep = (left != "") & (right != "") & (left != right) & (owners[nxt - 1] == owners[nxt])
    pairs = list(zip(left[keep].tolist(), right[keep].tolist()))
    if max_pairs is not None and len(pairs) > max_pairs:
        chosen = np.sort(np.random.default_rng(seed).choice(len(pairs), size=max_pairs, replace=False))
        pairs = [pairs[i] for i in chosen]
    return pairs


def fine_tune(
    encoder: "TextEncoder",
    pairs: Sequence[tuple[str, str]],
    output_dir: str | os.PathLike,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    max_seconds: float | None = 600.0,
    overwrite: bool = False,
    random_state: int = 0,
    show_progress: bool = False,
) -> "TextEncoder":
    """Train ``encoder``'s model on text pairs and save it to ``output_dir``; return an encoder for it.

    Parameters
    ----------
    encoder : TextEncoder
        Its model is the starting point (the bundled all-MiniLM-L6-v2 by default); it is not changed.
    pairs : sequence of (str, str)
        Texts that belong together (see :func:`text_pairs`).
    output_dir : path
        Folder for the tuned model; written atomically (a temporary folder renamed into place).
    epochs, batch_size, learning_rate : training settings (AdamW with linear decay).
    max_seconds : float or None, default=600
        Wall-clock budget; training stops after the step that passes it.
    overwrite : bool, default=False
        Replace an existing ``output_dir``.
    random_state : int, default=0
    show_progress : bool, default=False

    Returns
    -------
    TextEncoder
        ``TextEncoder(model=output_dir)`` with the encoder's other settings; its ``fine_tune_log_``
        holds the steps, pairs, seconds and the first and last logged losses.
    """
    check_positive_int(epochs, "epochs", "fine_tune")
    check_positive_int(batch_size, "batch_size", "fine_tune")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"fine_tune: max_seconds must be > 0 or None. Got {max_seconds!r}.")
    pairs = [(str(a), str(b)) for a, b in pairs]
    if len(pairs) < 2:
        raise ValueError(f"fine_tune needs at least 2 text pairs. Got {len(pairs)}.")
    target = Path(output_dir).expanduser()
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ValueError(f"fine_tune: {target} exists and is not empty; pass overwrite=True to replace it.")
    try:
        from datasets import Dataset
        from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
        from transformers import TrainerCallback
    except ImportError as err:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "fine_tune uses sentence-transformers' trainer, which needs `datasets` and `accelerate`: "
            f'pip install "hybridrec[finetune]" ({err})'
        ) from err
    try:  # sentence-transformers >= 5.2 moved its losses
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:  # pragma: no cover - older sentence-transformers
        from sentence_transformers.losses import MultipleNegativesRankingLoss

    class _Budget(TrainerCallback):
        """Stop training after the step that passes ``max_seconds``."""

        def on_step_end(self, args, state, control, **kwargs):
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                control.should_training_stop = True
            return control

    target.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(encoder._get_model())
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    start = time.perf_counter()
    try:
        args = SentenceTransformerTrainingArguments(
            output_dir=str(scratch / "trainer"), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
            learning_rate=learning_rate, warmup_steps=0, seed=random_state, data_seed=random_state,
            batch_sampler="no_duplicates", save_strategy="no", eval_strategy="no", report_to="none",
            logging_steps=10, disable_tqdm=not show_progress, use_cpu=model.device.type == "cpu",
            dataloader_drop_last=len(pairs) >= 2 * batch_size,
        )
        dataset = Dataset.from_dict({"anchor": [a for a, _ in pairs], "positive": [b for _, b in pairs]})
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset,
                                             loss=MultipleNegativesRankingLoss(model), callbacks=[_Budget()])
        result = trainer.train()
        model.eval()
        shutil.rmtree(scratch / "trainer", ignore_errors=True)
        model.save(str(scratch / "model"))
        if target.exists():  # swap: the old model is restored if the new one cannot be moved in
            target.rename(scratch / "previous")
        try:
            (scratch / "model").rename(target)
        except BaseException:
            if (scratch / "previous").exists():
                (scratch / "previous").rename(target)
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    log = {"steps": int(trainer.state.global_step), "pairs": len(pairs), "seconds": time.perf_counter() - start,
           "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
           "train_loss": float(result.training_loss)}
    logger.info("fine_tune: %(steps)d steps over %(pairs)d pairs in %(seconds).0fs; mean loss %(train_loss).3f", log)
    logger.info("fine_tune: saved to %s", target)
    tuned = encoder.__class__(**{**encoder.get_params(), "model": str(target)})
    tuned.fine_tune_log_ = log
    return tuned


