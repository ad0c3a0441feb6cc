"""The options of ``hybridrec evaluate``, checked before anything slow runs."""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from ..evaluation.splits import PROTOCOLS

#: Dataset loaders the command knows, by ``--loader`` name.
LOADERS = ("sample", "movielens", "goodbooks", "amazon")

def check_args(args: argparse.Namespace) -> dict[str, Any]:
    """Validate the options before anything slow runs; return the parsed weights and split sizes."""
    if args.loader not in LOADERS:
        raise ValueError(f"--loader must be one of {list(LOADERS)}. Got {args.loader!r} instead.")
    if args.loader != "sample" and not args.path:
        raise ValueError(f"--path is required with --loader {args.loader} (the dataset folder). Got none.")
    if args.loader == "sample" and args.path:
        raise ValueError(f"--path is not used with --loader sample (the sample is bundled). Got {args.path!r}; "
                         "drop --path or choose another --loader.")
    if args.protocol not in PROTOCOLS:
        raise ValueError(f"--protocol must be one of {list(PROTOCOLS)}. Got {args.protocol!r} instead.")
    if args.protocol == "cross_domain" and not args.target_domain:
        raise ValueError("--target-domain is required with --protocol cross_domain (the domain to hide and rank). Got none.")
    if args.target_domain and args.protocol != "cross_domain":
        raise ValueError(f"--target-domain applies to --protocol cross_domain only. Got --target-domain "
                         f"{args.target_domain!r} with --protocol {args.protocol}; use --domain for cold_item.")
    if args.domain and args.protocol != "cold_item":
        raise ValueError(f"--domain applies to --protocol cold_item only. Got --domain {args.domain!r} with "
                         f"--protocol {args.protocol}" + ("; use --target-domain." if args.protocol == "cross_domain" else "."))
    if isinstance(args.k, bool) or not isinstance(args.k, int) or args.k <= 0:
        raise ValueError(f"--k must be a positive integer (the cut-off of the @k metrics). Got {args.k!r} instead.")
    if isinstance(args.seed, bool) or not isinstance(args.seed, int) or args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0. Got {args.seed!r} instead.")
    cdw = args.cross_domain_weight
    if not isinstance(cdw, (int, float)) or not math.isfinite(cdw) or not 0 <= cdw <= 1:
        raise ValueError(f"--cross-domain-weight must be a number in [0, 1]. Got {cdw!r} instead.")
    if args.weights is not None and args.components is not None:
        raise ValueError("--weights and --components are alternatives; give one of them. Got both.")
    weights = None
    if args.weights is not None:
        weights = parse_weights(args.weights)
    elif args.components is not None:
        weights = parse_components(args.components)
    return {"weights": weights, "cross_domain_weight": float(cdw), "split_params": {}}


def known_components() -> list[str]:
    """Names usable in --weights and --components: every registered component."""
    from ..components import available

    return available()


def parse_weights(text: str) -> dict[str, float]:
    """Parse ``--weights``: a JSON object of component name -> weight >= 0, at least one > 0.

    Parameters
    ----------
    text : str
        E.g. ``'{"als": 1, "itemknn": 0.5}'``.

    Returns
    -------
    dict of str -> float
        The named components' weights, in the order given.
    """
    from ..blend import check_weights

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"--weights must be a JSON object of component name -> weight, e.g. '{{\"als\": 1, \"itemknn\": 1}}'. "
            f"Got {text!r}, which is not valid JSON ({exc.msg} at position {exc.pos})."
        ) from None
    if not isinstance(value, dict) or not value:
        raise ValueError(
            f"--weights must be a non-empty JSON object of component name -> weight, e.g. "
            f"'{{\"als\": 1, \"itemknn\": 1}}'. Got {text!r}."
        )
    checked = check_weights(value, known_components(), where="--weights")
    return {name: checked[name] for name in value}


def parse_components(text: str) -> dict[str, float]:
    """Parse ``--components``: a comma-separated list of component names, each at weight 1.

    Parameters
    ----------
    text : str
        E.g. ``"als,itemknn"``.

    Returns
    -------
    dict of str -> float
    """
    names = [part.strip() for part in text.split(",")]
    known = known_components()
    if not names or any(not n for n in names):
        raise ValueError(f"--components must be a comma-separated list of component names from {known}. Got {text!r}.")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--components names unknown components {unknown}. Known components: {known}.")
    if len(set(names)) != len(names):
        raise ValueError(f"--components lists a component twice. Got {text!r}.")
    return {name: 1.0 for name in names}


def prepare_out(out: str | os.PathLike) -> Path:
    """Create the output folder (before the slow steps, so a bad --out fails at once)."""
    folder = Path(out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out must be a folder. Got {str(folder)!r}, which is an existing file.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out: cannot create the folder {str(folder)!r} ({exc.strerror}).") from None
    return folder
