"""``hybridrec serve``: the HTTP API and web page over a saved model."""
from __future__ import annotations

import argparse
from pathlib import Path

import hybridrec as hr

from .._optional import import_optional
from ._output import say


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve a saved model over HTTP: a JSON API and a web page (hybridrec[serve])")
    p.add_argument("--model", required=True, help="model file written by 'hybridrec fit' or hybridrec.save")
    p.add_argument("--model-format", choices=["hybridrec", "joblib"], default="hybridrec",
                   help="joblib: a pickle, which runs code when loaded (trusted files only)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-k", type=int, default=100, help="largest k a request may ask for")
    p.add_argument("--max-text", type=int, default=2000, help="longest query or user text, in characters")
    p.add_argument("--allow-fold-in", action="store_true", help="let POST /users add users to the model")
    p.add_argument("--allow-reload", action="store_true",
                   help="let POST /admin/reload load --model again and swap it in (requests in flight finish on the old)")
    p.add_argument("--allow-updates", action="store_true",
                   help="let POST /events record users' new interactions (reflected in their next requests)")
    p.add_argument("--snapshot", metavar="PATH",
                   help="with --allow-updates: POST /admin/snapshot saves the model with the live events added to "
                        "PATH, atomically (PATH may be --model: a reload then serves it)")
    p.add_argument("--encoder-backend", choices=["fastest", "model", "torch", "onnx-int8"], default="fastest",
                   help="backend for text queries: fastest (onnx-int8 when onnxruntime is installed, else torch) "
                        "or the model's own")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes; with more than one they share one memory-mapped copy of the model "
                        "and its lists (fold-in, updates and reload need one worker)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import_optional("fastapi", "hybridrec serve")
    import_optional("uvicorn", "hybridrec serve")
    from ..serve import Limits, serve

    for name in ("max_k", "max_text", "port", "workers"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer. Got {getattr(args, name)}.")
    limits = Limits(max_k=args.max_k, max_text_chars=args.max_text, allow_fold_in=args.allow_fold_in,
                    allow_reload=args.allow_reload, allow_updates=args.allow_updates, snapshot=args.snapshot)
    if args.snapshot and not args.allow_updates:
        raise ValueError("--snapshot saves live events, so it needs --allow-updates.")
    if args.workers > 1:  # the workers load the file; this process only supervises them
        if not Path(args.model).expanduser().exists():
            raise FileNotFoundError(f"No model file at {args.model}.")
        say(f"hybridrec serve: http://{args.host}:{args.port}/ with {args.workers} workers (Ctrl-C stops it)")
        serve(None, host=args.host, port=args.port, model_path=args.model, model_format=args.model_format,
              encoder_backend=args.encoder_backend, workers=args.workers, limits=limits)
        return 0
    model = hr.load(args.model, format=args.model_format)
    say(f"hybridrec serve: http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    if getattr(model, "encoder_", None) is not None:
        from ..serve import chosen_backend

        say(f"hybridrec serve: text queries are encoded with the {chosen_backend(model.encoder_, args.encoder_backend)} "
            "backend")
    serve(model, host=args.host, port=args.port, model_path=args.model, model_format=args.model_format,
          encoder_backend=args.encoder_backend, limits=limits)
    return 0
