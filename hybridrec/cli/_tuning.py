"""``hybridrec evaluate --tune``: the default grid and the tuning step of the command."""
from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..evaluation.splits import Split

#: Blend-weight levels of the default tuning grid (coarser when more components are fitted).
_GRID_LEVELS = {"few": (0.0, 0.5, 1.0), "many": (0.0, 1.0)}
#: cross_domain_weight values of the default tuning grid (multi-domain catalogues only).
_GRID_CDW = (0.0, 0.5, 1.0)


def default_grid(components: Sequence[str], multi_domain: bool) -> list[dict[str, Any]]:
    """The small grid ``--tune`` searches: fitted components' weights x ``cross_domain_weight``.

    Weights take the levels (0, 0.5, 1) for up to three components and (0, 1) for more, scaled
    so that the largest is 1: the all-zero combination and combinations that are multiples of
    another (the same ranking) are left out. ``cross_domain_weight`` takes (0, 0.5, 1) when the catalogue has several
    domains and is not tuned otherwise.

    Parameters
    ----------
    components : sequence of str
        Names of the fitted components.
    multi_domain : bool
        Whether the catalogue has more than one domain.

    Returns
    -------
    list of dict
        Candidates for :func:`hybridrec.model_selection.tune_blend`.
    """
    names = list(components)
    levels = _GRID_LEVELS["few"] if len(names) <= 3 else _GRID_LEVELS["many"]
    combos: list[dict[str, float]] = []
    seen: set[tuple[float, ...]] = set()
    for values in itertools.product(levels, repeat=len(names)) if len(names) > 1 else [(1.0,)]:
        top = max(values)
        if top == 0:
            continue
        ratio = tuple(round(v / top, 6) for v in values)  # the largest weight is 1
        if ratio in seen:
            continue
        seen.add(ratio)
        combos.append(dict(zip(names, ratio)))
    cdws = _GRID_CDW if multi_domain else (None,)
    grid = []
    for cdw, weights in itertools.product(cdws, combos):
        cand: dict[str, Any] = {"weights": weights}
        if cdw is not None:
            cand["cross_domain_weight"] = cdw
        grid.append(cand)
    return grid


def tune(model: Any, split: "Split", k: int, protocol: str, say: Callable[[str], None],
          progress: Callable[[str], None], quiet: bool) -> dict[str, Any]:
    """Run tune_blend on the validation users; return what metrics.json records about it."""
    from ..model_selection import tune_blend

    if split.valid is None:
        reason = f"the {protocol} split has no validation rows"
        say(f"--tune skipped: {reason}; testing with the weights as given.")
        return {"skipped": reason, "best_params": None}
    multi_domain = len(set(model.data_.item_domain.tolist())) > 1
    grid = default_grid(list(model.components_), multi_domain)
    if len(grid) < 2:
        reason = "one component on a single-domain catalogue leaves nothing to tune"
        say(f"--tune skipped: {reason}.")
        return {"skipped": reason, "best_params": None}
    n_valid = split.valid[split.user_col].nunique()
    progress(f"Tuning {len(grid)} blends on {n_valid} validation users (NDCG@{k}) ...")
    t0 = time.perf_counter()
    table = tune_blend(model, split, grid, k=k, metric="ndcg", users="valid", show_progress=not quiet)
    seconds = time.perf_counter() - t0
    best = table.attrs["best_params"]
    label = f"ndcg@{k}"
    say(f"--tune: best of {len(grid)} blends on {n_valid} validation users: {label} "
        f"{table.iloc[0][label]:.4f} with {_describe(best)} ({seconds:.1f}s)")
    from ..evaluation.report import records

    results = table.assign(weights=table["weights"].map(lambda w: {n: float(v) for n, v in w.items()}))
    return {
        "skipped": None,
        "metric": label,
        "n_candidates": len(grid),
        "n_valid_users": int(n_valid),
        "best_params": best,
        "best_value": float(table.iloc[0][label]),
        "seconds": round(seconds, 3),
        "results": records(results),
    }


def _describe(params: Mapping[str, Any]) -> str:
    parts = [", ".join(f"{n}={w:g}" for n, w in params.get("weights", {}).items())]
    if "cross_domain_weight" in params:
        parts.append(f"cross_domain_weight={params['cross_domain_weight']:g}")
    return "; ".join(p for p in parts if p)
