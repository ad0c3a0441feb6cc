"""The text encoder's latency for what a server sends it: one short query, and a batch of 16.

For each backend installed (``torch``; ``onnx-int8`` with ``hybridrec[onnx]``) and each thread
count (1 and 2), encodes ``--queries`` distinct short queries one at a time and in batches of
16, with the embedding cache off (every text is encoded), after a warm-up. Reports p50/p95
milliseconds per call and the mean cosine of each backend's embeddings to torch's on the same
texts. Run it alone on the machine.

    python benchmarks/encoder_latency.py [--queries 200]
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hybridrec as hr  # noqa: E402
from _common import RESULTS, commit  # noqa: E402
from hybridrec.evaluation.report import write_json, write_text  # noqa: E402

MOODS = ("a funny", "a dark", "a gentle", "an epic", "a clever", "a quiet", "a fast", "a strange")
KINDS = ("heist", "space adventure", "family film", "love story", "war drama", "detective story", "kitchen knife",
         "green tea", "cast iron pan", "dark chocolate", "coffee grinder", "spice rack", "road movie")


def _threads(n: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    torch.set_num_threads(n)


def _times(encode, texts: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds per call of ``encode`` over ``texts`` in chunks of ``size``, and the embeddings."""
    out, seconds = [], []
    for start in range(0, len(texts), size):
        begin = time.perf_counter()
        out.append(encode(texts[start:start + size]))
        seconds.append(time.perf_counter() - begin)
    return np.array(seconds) * 1000, np.vstack(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "encoder_latency.md")
    args = parser.parse_args(argv)
    texts = [f"{m} {k} {i}" for i, (m, k) in enumerate((m, k) for m in MOODS for k in KINDS)]
    texts = (texts * (args.queries // len(texts) + 1))[:args.queries]
    texts = [f"{t} #{n}" for n, t in enumerate(texts)]  # all distinct
    backends = ["torch"]
    try:
        import onnxruntime  # noqa: F401

        backends.append("onnx-int8")
    except ImportError:
        print("encoder_latency.py: onnxruntime is not installed; only the torch backend is measured")
    rows, reference = [], None
    for backend in backends:
        encoder = hr.TextEncoder(backend=backend, cache_dir=None).load()
        for threads in (1, 2):
            _threads(threads)
            encoder.encode(texts[:16])  # warm-up
            single, vectors = _times(encoder.encode, texts, 1)
            batch, _ = _times(encoder.encode, texts, 16)
            if reference is None:
                reference = vectors
            cosine = float(np.mean(np.sum(vectors * reference, axis=1)))
            rows.append({"backend": backend, "threads": threads, "single_p50_ms": float(np.percentile(single, 50)),
                         "single_p95_ms": float(np.percentile(single, 95)),
                         "batch16_p50_ms": float(np.percentile(batch, 50)),
                         "batch16_p95_ms": float(np.percentile(batch, 95)), "cosine_to_torch": cosine})
            print(rows[-1], flush=True)
    result = {"command": "python benchmarks/encoder_latency.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "commit": commit(), "date": time.strftime("%Y-%m-%d %H:%M %Z"),
              "machine": f"{platform.machine()}, Python {platform.python_version()}", "queries": args.queries,
              "rows": rows}
    lines = ["# Text encoder latency (all-MiniLM-L6-v2, short queries, cache off)", "",
             f"- Command: `{result['command']}`", f"- Date: {result['date']}; git commit `{result['commit']}`",
             f"- Machine: {result['machine']}; {args.queries} distinct queries, one at a time and in batches of 16", "",
             "| backend | threads | one query p50 ms | p95 ms | batch of 16 p50 ms | p95 ms | mean cosine to torch |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['backend']} | {r['threads']} | {r['single_p50_ms']:.1f} | {r['single_p95_ms']:.1f} | "
              f"{r['batch16_p50_ms']:.1f} | {r['batch16_p95_ms']:.1f} | {r['cosine_to_torch']:.4f} |" for r in rows]
    write_text(args.out, "\n".join(lines) + "\n")
    write_json(args.out.with_suffix(".json"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
