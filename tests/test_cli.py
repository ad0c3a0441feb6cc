"""``hybridrec demo``, ``fit`` and ``recommend`` (in-process), their errors and warnings."""
from __future__ import annotations

import io
import re
import warnings

import pandas as pd
import pytest

import hybridrec as hr
from hybridrec import cli
from hybridrec.cli import main


def _ranked_titles(block: str) -> list[str]:
    """Titles of the rows of one printed recommendation table (lines starting with a rank)."""
    rows = [line.split(None, 1)[1] for line in block.splitlines() if re.match(r"^\s+\d+\s", line)]
    return [re.sub(r"\s+\S+\s+-?[\d.]+$", "", row).strip() for row in rows]


def test_demo_shows_the_three_cases_and_an_explanation(capsys):
    assert main(["demo", "--quiet", "--k", "4"]) == 0
    out = capsys.readouterr().out
    assert "1) User" in out and "Top 4 in 'family'" in out and "Top 4 in 'thriller'" in out
    lone = out[out.index("2) User"):out.index("3) Free-text query")]
    at_zero, at_one = lone.split("cross_domain_weight=1")
    assert len(_ranked_titles(at_zero)) == 4 and len(_ranked_titles(at_one)) == 4
    assert _ranked_titles(at_zero) != _ranked_titles(at_one)  # other-domain history switched on
    query = out[out.index("3) Free-text query"):out.index("4) Why?")]
    assert any("Toy Story" in title for title in _ranked_titles(query))
    assert "4) Why?" in out and out.rstrip().splitlines()[-1].startswith("Done in")


@pytest.fixture(scope="module")
def saved_model(sample, tmp_path_factory):
    """``hybridrec fit`` on CSV files of 200 sample users; the model file and the tables."""
    folder = tmp_path_factory.mktemp("cli-fit")
    users = sorted(sample.interactions["user_id"].unique())[:200]
    interactions = sample.interactions[sample.interactions["user_id"].isin(users)]
    paths = {name: folder / f"{name}.csv" for name in ("interactions", "items", "users")}
    interactions.to_csv(paths["interactions"], index=False)
    sample.items.to_csv(paths["items"], index=False)
    sample.users[sample.users["user_id"].isin(users)].to_csv(paths["users"], index=False)
    model_path = folder / "model.hybridrec"
    code = main(["fit", *[f"--{name}={path}" for name, path in paths.items()], "--out", str(model_path), "--quiet"])
    assert code == 0 and model_path.exists()
    return model_path, interactions


def test_recommend_from_the_saved_model_matches_the_python_api(saved_model, capsys):
    model_path, interactions = saved_model
    user = int(interactions["user_id"].iloc[0])
    capsys.readouterr()
    assert main(["recommend", "--model", str(model_path), "--user", str(user), "--k", "5", "--domain", "drama", "--csv"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    expected = hr.load(model_path).recommend(user, k=5, domain="drama")
    assert printed["rank"].tolist() == [1, 2, 3, 4, 5]
    assert printed["item_id"].tolist() == expected["item_id"].tolist()
    assert not set(printed["item_id"]) & set(interactions.loc[interactions["user_id"] == user, "item_id"])


def test_fit_auto_chooses_and_saves_the_blend(saved_model, tmp_path, capsys):
    """``hybridrec fit --auto``: the blend chosen on held-out training events is printed and saved."""
    model_path, _ = saved_model
    folder = model_path.parent
    out = tmp_path / "auto.hybridrec"
    capsys.readouterr()
    code = main(["fit", *[f"--{name}={folder / (name + '.csv')}" for name in ("interactions", "items", "users")],
                 "--out", str(out), "--auto", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    model = hr.load(out)
    report = model.auto_report_
    assert f"chosen on {report['users']} held-out users" in printed
    assert model.weights == "auto" and set(model.weights_) == {n for n, w in report["weights"].items() if w > 0}
    assert report["heldout_ndcg@10"] >= max(report["single"].values())
    assert "tower" in report["single"]  # the interactions have timestamps: the sequence tower takes part


def test_recommend_for_a_text_from_the_command_line(saved_model, capsys):
    model_path, _ = saved_model
    capsys.readouterr()
    assert main(["recommend", "--model", str(model_path), "--text", "animated movies about toys", "--k", "3", "--csv"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(printed) == 3 and printed["score"].notna().all()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "--interactions", "/no/such/table.csv", "--out", "m.hybridrec"], "no such file: /no/such/table.csv"),
        (["recommend", "--model", "/no/such/model.hybridrec", "--user", "1"], "No model file at /no/such/model.hybridrec"),
    ],
)
def test_missing_files_exit_2_with_a_clear_message(argv, message, capsys):
    assert main(argv) == 2
    out = capsys.readouterr().err
    assert out.startswith("error: ") and message in out


def test_bad_recommend_input_exits_2(saved_model, capsys):
    model_path, _ = saved_model
    assert main(["recommend", "--model", str(model_path), "--user", "1", "--k", "0"]) == 2
    assert "must be a positive int. Got 0" in capsys.readouterr().err
    assert main(["recommend", "--model", str(model_path), "--user", "1", "--domain", "westerns"]) == 2
    assert "Unknown domain 'westerns'" in capsys.readouterr().err


def test_a_joblib_model_loads_only_with_model_format_joblib(saved_model, tmp_path, capsys):
    model_path, interactions = saved_model
    user = str(int(interactions["user_id"].iloc[0]))
    pickled = hr.save(hr.load(model_path), tmp_path / "m.joblib", format="joblib")
    assert main(["recommend", "--model", str(pickled), "--user", user]) == 2
    assert "--model-format joblib" in capsys.readouterr().err
    assert main(["recommend", "--model", str(pickled), "--model-format", "joblib", "--user", user, "--k", "3", "--csv"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert printed["item_id"].tolist() == hr.load(model_path).recommend(int(user), k=3)["item_id"].tolist()


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("demo", "fit", "recommend", "evaluate"):
        assert command in text


def test_warnings_are_shown_as_one_line_during_a_command_only(capsys, monkeypatch):
    def warns(args):
        warnings.warn("3 of 9 texts were truncated", UserWarning)
        return 0

    monkeypatch.setattr(cli.demo, "demo", warns)
    before = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["demo"]) == 0
    assert capsys.readouterr().err == "warning: 3 of 9 texts were truncated\n"
    assert warnings.showwarning is before  # the command's display rule does not outlive it


def test_recommend_prints_each_items_text_beside_its_id(saved_model, sample, capsys):
    model_path, interactions = saved_model
    texts = sample.items.set_index("item_id")["text"]
    for argv in (["--user", str(int(interactions["user_id"].iloc[0]))], ["--text", "animated movies about toys"]):
        capsys.readouterr()
        assert main(["recommend", "--model", str(model_path), *argv, "--k", "3", "--csv"]) == 0
        printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
        assert printed["text"].tolist() == [texts[i][:60] for i in printed["item_id"]]
    assert any("Toy Story" in text for text in printed["text"])


def test_a_missing_optional_extra_names_the_install_command(tmp_path, capsys, monkeypatch):
    import sys

    from hybridrec._optional import MissingExtraError
    from hybridrec.evaluation import report

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if matplotlib were not installed
    with pytest.raises(MissingExtraError, match='pip install "hybridrec\\[plot\\]"'):
        report.new_figure(4, 3)
    assert main(["evaluate", "--components", "als", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "warning: ndcg.png not written" in out and 'pip install "hybridrec[plot]"' in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
