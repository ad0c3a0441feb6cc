"""Markdown, JSON and the cross-domain-weight plot of ``benchmarks/quality.py``."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hybridrec.evaluation.report import new_figure, save_figure, write_json, write_text

#: Results of other systems quoted in the issue (not produced by this script).
REFERENCES = [
    ("CD-cold food -> kitchen", "peer EASE", "0.042-0.044"),
    ("CD-cold food -> kitchen", "peer PureSVD", "0.042"),
    ("CD-cold kitchen -> food", "peer PureSVD", "0.080"),
    ("CD-cold kitchen -> food", "Cornac CTR", "0.084"),
]


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _params(row: dict[str, Any]) -> str:
    if row["component"].startswith("hybrid"):
        weights = ", ".join(f"{n} {w:g}" for n, w in row["weights"].items() if w > 0)
        parts = [weights, f"norm {row['normalization']}"]
    else:
        parts = [", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["params"].items())]
    if row.get("cdw") is not None:
        parts.append(f"cdw {row['cdw']:g}")
    return "; ".join(p for p in parts if p) or "-"


def _ci(pair: list[float] | None, digits: int = 2) -> str:
    """A bootstrap interval as ' [low, high]' (empty for results written before intervals)."""
    return "" if not pair else f" [{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"


def _out_of_the_box_lines(block: dict[str, Any]) -> list[str]:
    """Each untuned model against the tuned hybrid and the best single component (test NDCG@10)."""
    ratio = block["ratio"]
    lines = []
    for row in block["rows"]:
        if row["component"] not in ("hybrid_default_model", "hybrid_auto"):
            continue
        ndcg = row["metrics"]["ndcg"]
        auto = row.get("auto")
        chosen = "" if not auto else (f"; chosen on {auto['users']} held-out training users (held-out NDCG@10 "
                                      f"{auto['heldout_ndcg@10']:.4f}, best single there "
                                      f"{max(auto['single'].values()):.4f})")
        lines += ["", f"{row['method']}: {ndcg / ratio['hybrid']:.2f}x{_ci(row.get('vs_hybrid_interval'))} the tuned "
                      f"hybrid, {ndcg / ratio['best']:.2f}x{_ci(row.get('vs_best_interval'))} the best single baseline "
                      f"({ratio['best_label']}){chosen}."]
    return lines


def protocol_markdown(result: dict[str, Any]) -> list[str]:
    task = result["task"]
    lines = [f"## {task['title']}", ""]
    lines += [f"- {note}" for note in task["notes"]]
    lines.append(f"- Split: `{task['split']}`")
    if task["refit"]:
        lines.append(f"- Tuning split: `{task['tune_split']}` ({task['tune_users']} users)")
    steps = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in result["timings"].items())
    lines.append(f"- Wall time of this protocol: {result['seconds']:.0f} s ({steps})")
    grids = [f"{f} {r['seconds']:.0f} s" for f, r in result["component_tuning"].items() if "seconds" in r]
    if grids:
        lines.append(f"- Component searches: {', '.join(grids)}")
    walked = {f: r["edges"] for f, r in result["component_tuning"].items() if "edges" in r}
    if walked:
        stuck = [f"{f} {', '.join(e)}" for f, e in walked.items() if e]
        lines.append(f"- Choices at a ladder end that is not a natural bound (edges): {'; '.join(stuck) or 'none'}")
    towers = [(what, result["tune_fit"].get(key)) for what, key in (("tuning fit", "tower"), ("refit", "refit_tower"))]
    towers = [f"{what}: {t['epochs']} epochs (best {t['best_epoch']}), {t['seconds']:.0f} s" for what, t in towers if t]
    if towers:
        als = result["tune_fit"]["components"].get("als")
        lines.append(f"- Tower training ({'; '.join(towers)})" + ("" if als is None else f"; ALS's fit {als:.0f} s"))
    lines.append("")
    for block in result["sets"]:
        lines.append(f"### {block['label']}")
        lines.append("")
        lines.append("| method | NDCG@10 | 95% interval | Recall@10 | P@10 | MAP@10 | coverage@10 | users | tuned parameters "
                     "| fit s |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for row in block["rows"]:
            m = row["metrics"]
            name = f"**{row['method']}**" if row["component"] == "hybrid" else row["method"]
            fit = "" if row.get("fit_seconds") is None else f"{row['fit_seconds']:.1f}"
            lines.append(
                f"| {name} | {_fmt(m['ndcg'])} | {_ci(m.get('ndcg_interval'), 4).strip()} | {_fmt(m['recall'])} | {_fmt(m['precision'])} | {_fmt(m['map'])} | "
                f"{_fmt(m['coverage'], 3)} | {m['n_users']} | {_params(row)} | {fit} |"
            )
        lines.append("")
        ratio = block["ratio"]
        lines.append(f"hybrid / best baseline ({ratio['best_label']}) = **{ratio['value']:.2f}x**{_ci(ratio.get('interval'))} "
                     f"(NDCG@10 {ratio['hybrid']:.4f} vs {ratio['best']:.4f}; validation NDCG@10 of the chosen blend "
                     f"{block['blend']['valid_ndcg']:.4f}).")
        if block.get("target"):
            t = block["target"]
            lines.append("")
            lines.append(f"Target: {t['text']}: {t['ratio']:.2f}x vs {t['best_label']} "
                         f"(needs {t['factor']:.2f}x) -> **{'met' if t['met'] else 'not met'}**.")
        lines += _out_of_the_box_lines(block)
        lines.append("")
    if result.get("sweep"):
        lines.append("cross_domain_weight sweep of the tuned hybrid (validation users, NDCG@10): "
                     + ", ".join(f"{c:g}: {v:.4f}" for c, v in result["sweep"]))
        lines.append("")
    return lines


def markdown(report: dict[str, Any]) -> str:
    head = report["header"]
    lines = [
        "# Recommendation quality: hybrid vs. single-component baselines",
        "",
        f"- Command: `{head['command']}`",
        f"- Date: {head['date']}; git commit `{head['commit']}`; seed {head['seed']}; budget `{head['budget']}`",
        f"- Machine: {head['machine']} (timings are noisy: the CPU is shared)",
        f"- Total time: {head['total_seconds'] / 60:.1f} min"
        + (f" ({head['protocols_done']} protocols done)" if "protocols_done" in head else ""),
        f"- Data: `{head['data']}`",
        "",
        "Every row is a full-ranking evaluation (`hybridrec.evaluation.evaluate`, k=10) of the same split's "
        "test users. Every baseline's parameters (and its cross_domain_weight) are tuned on validation "
        "users only (the split's valid users, or a nested split of the training rows); the hybrid is ONE "
        "HybridRecommender holding every component at its tuned parameters, and each baseline row is that "
        "model with only that component weighted (`component_scores(...)` blended by `hybridrec.blend.blend` "
        "with weights {name: 1}, identical to `reweight({name: 1})` and `score_items`; checked: max |difference| "
        f"{_fmt(head.get('equivalence_check'), 8)}). The hybrid's weights, cross_domain_weight and normalization "
        "are chosen by `tune_blend` on the same validation users with a staged search (single components x "
        "cdw; best-improvement coordinate ascent over weights {0, 0.25, 0.5, 1}; then the other normalization and "
        "the other cdw values at the chosen weights, and more ascent if that moved the setting). "
        "`users` is the number of users evaluated; where users are evaluated in two domains (warm next-item, "
        "cold-user) a user counts once per domain. Intervals in brackets are 95% percentile bootstraps over the "
        "test users (2,000 resamples, seed 0); a ratio's interval resamples the same users for both rows. "
        "`fit s`: the component's fit inside the hybrid (the "
        "hybrid: the whole fit, text lookup included); `cdw`: cross_domain_weight.",
        "",
    ]
    lines += [f"- {note}" for note in head["budget_notes"]]
    lines += ["", "## Targets of the issue", "", "| protocol | candidates | target | measured | |", "|---|---|---|---|---|"]
    for result in report["protocols"]:
        for block in result["sets"]:
            t = block.get("target")
            if t:
                lines.append(f"| {result['task']['title']} | {block['label']} | {t['text']} | "
                             f"{t['ratio']:.2f}x{_ci(t.get('interval'))} vs {t['best_label']} | "
                             f"{'met' if t['met'] else 'not met'} |")
            else:
                r = block["ratio"]
                lines.append(f"| {result['task']['title']} | {block['label']} | (none) | "
                             f"{r['value']:.2f}x{_ci(r.get('interval'))} vs {r['best_label']} | - |")
    lines += ["", "## Reference points (from the issue, NOT from this run)", "",
              "| protocol | system | NDCG@10 |", "|---|---|---|"]
    lines += [f"| {p} | {s} | {v} |" for p, s, v in REFERENCES]
    lines.append("")
    for result in report["protocols"]:
        lines += protocol_markdown(result)
    if report.get("skipped"):
        lines += ["## Skipped", ""] + [f"- {s}" for s in report["skipped"]] + [""]
    return "\n".join(lines)


def plot_sweep(path: Path, sweeps: dict[str, list[tuple[float, float]]], subtitle: str) -> None:
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    for label, points in sweeps.items():
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xlabel("cross_domain_weight")
    ax.set_ylabel("NDCG@10 (validation users)")
    ax.set_title(f"Tuned hybrid vs cross_domain_weight, on the VALIDATION users\n{subtitle}", fontsize=9)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def write_run(out: Path, report: dict[str, Any]) -> list[Path]:
    """``quality.json``, ``quality.md`` and (with a sweep) ``cd_weight_sweep.png`` of a run, under ``out``."""
    head = report["header"]
    write_json(out / "quality.json", report, indent=1)
    write_text(out / "quality.md", markdown(report))
    written = [out / "quality.md", out / "quality.json"]
    sweeps = {r["task"]["title"]: r["sweep"] for r in report["protocols"] if r.get("sweep")}
    if sweeps:
        plot_sweep(out / "cd_weight_sweep.png", sweeps, f"seed {head['seed']}, budget {head['budget']}, {head['date']}")
        written.append(out / "cd_weight_sweep.png")
    return written
