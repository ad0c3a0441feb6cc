"""The ``hybridrec`` command line, the roof over the library: demo, fit, recommend, evaluate.

Each command lives in its own module and registers its parser here; the library below never
imports this package. Bad input ends with exit code 2 and one ``error: ...`` line on stderr;
library warnings are shown as one ``warning: ...`` line each, on stderr too.
"""
from __future__ import annotations

import argparse
import logging
import warnings
from typing import Sequence

from .._optional import MissingExtraError, SparkSetupError
from . import demo as _demo
from . import evaluate as _evaluate
from . import model as _model
from . import serve as _serve
from ._output import error_line, warn_line

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridrec",
        description="Hybrid, cross-domain recommendation: ALS + LightFM text features + sentence-transformer semantics.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _demo.add_parser(sub)
    _model.add_parsers(sub)
    _evaluate.add_parser(sub)
    _serve.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 0
    with warnings.catch_warnings():  # one-line warnings for this command only; restored afterwards
        warnings.showwarning = warn_line
        try:
            return args.func(args)
        except (ValueError, FileNotFoundError, MissingExtraError, SparkSetupError) as exc:
            error_line(str(exc))
            return 2
