"""hybridrec.save / hybridrec.load: round trip, version record and check, atomic writes (both formats)."""
from __future__ import annotations

import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy

import hybridrec as hr
import hybridrec.persistence


@pytest.fixture(scope="module")
def als_model(sample) -> hr.HybridRecommender:
    return hr.HybridRecommender(weights={"als": 1.0, "itemknn": 1.0}, random_state=0).fit(
        sample.interactions, items=sample.items
    )


@pytest.fixture(scope="module")
def users(sample) -> list:
    return sample.interactions["user_id"].drop_duplicates().iloc[::50].tolist()


def _files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _edit_manifest(path, edit) -> None:
    """Rewrite a saved model's manifest through ``edit(manifest)``, keeping its arrays."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_round_trip_gives_identical_recommendations(fitted_sample_model, users, sample, tmp_path):
    path = tmp_path / "model.hybridrec"
    returned = hr.save(fitted_sample_model, path)
    assert returned == path and path.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same versions: no warning
        loaded = hr.load(path)
    assert isinstance(loaded, hr.HybridRecommender)
    assert loaded is not fitted_sample_model
    for domain in (None, "family"):
        pd.testing.assert_frame_equal(loaded.recommend(users, k=10, domain=domain),
                                      fitted_sample_model.recommend(users, k=10, domain=domain))
    pairs = fitted_sample_model.recommend(users, k=5)[["user_id", "item_id"]]
    np.testing.assert_array_equal(loaded.predict(pairs), fitted_sample_model.predict(pairs))
    assert loaded.get_params(deep=False).keys() == fitted_sample_model.get_params(deep=False).keys()
    assert loaded.weights_ == fitted_sample_model.weights_


def test_loaded_model_can_be_saved_again(als_model, users, tmp_path):
    first = hr.load(hr.save(als_model, tmp_path / "one.hybridrec"))
    second = hr.load(hr.save(first, tmp_path / "two.hybridrec"))
    pd.testing.assert_frame_equal(second.recommend(users, k=5), als_model.recommend(users, k=5))


def test_joblib_file_records_library_versions(als_model, tmp_path):
    path = hr.save(als_model, tmp_path / "model.joblib", format="joblib")
    payload = joblib.load(path)
    assert isinstance(payload, dict)
    versions = payload["versions"]
    assert versions["hybridrec"] == hr.__version__
    assert versions["numpy"] == np.__version__
    assert versions["scipy"] == scipy.__version__
    assert versions["joblib"] == joblib.__version__
    for name in ("scikit-learn", "implicit", "lightfm-next", "sentence-transformers"):
        assert versions.get(name), name
    assert isinstance(payload["model"], hr.HybridRecommender)


def test_saved_model_does_not_carry_the_text_model(fitted_sample_model, tmp_path):
    """The sentence-transformer weights (~90 MB) are reloaded on demand, never pickled."""
    path = hr.save(fitted_sample_model, tmp_path / "model.hybridrec")
    assert path.stat().st_size < 20 * 2**20


def test_version_mismatch_warns(als_model, users, tmp_path):
    path = hr.save(als_model, tmp_path / "model.joblib", format="joblib")
    payload = joblib.load(path)
    payload["versions"]["numpy"] = "0.0.1"
    payload["versions"]["hybridrec"] = "0.0.0.dev0"
    joblib.dump(payload, path)
    with pytest.warns(UserWarning) as record:
        loaded = hr.load(path, format="joblib")
    message = " ".join(str(w.message) for w in record)
    assert "numpy 0.0.1 -> " + np.__version__ in message
    assert "hybridrec 0.0.0.dev0 -> " + hr.__version__ in message
    pd.testing.assert_frame_equal(loaded.recommend(users, k=5), als_model.recommend(users, k=5))


@pytest.mark.parametrize("fmt", ["hybridrec", "joblib"])
def test_unsaveable_model_leaves_no_partial_file_and_keeps_the_old_one(als_model, tmp_path, fmt):
    path = hr.save(als_model, tmp_path / "model.bin", format=fmt)
    before = path.read_bytes()
    broken = hr.load(path, format=fmt)
    broken.callback_ = lambda x: x  # lambdas can be neither pickled nor saved safely
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)) as excinfo:
        hr.save(broken, path, format=fmt)
    if fmt == "hybridrec":
        assert "model.callback_ is a builtins.function" in str(excinfo.value)  # names where it is
    assert path.read_bytes() == before  # the existing good file is untouched
    assert _files(tmp_path) == ["model.bin"]  # and no temporary file is left behind
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        hr.save(broken, tmp_path / "new.bin", format=fmt)
    assert _files(tmp_path) == ["model.bin"]


@pytest.mark.parametrize("fmt, writer", [("joblib", (hybridrec.persistence.joblib, "dump")),
                                         ("hybridrec", (hybridrec.persistence._safe_format, "write"))])
def test_failure_while_writing_leaves_no_partial_file(als_model, tmp_path, monkeypatch, fmt, writer):
    """A full disk, simulated by a writer that writes part of the file and raises."""
    path = hr.save(als_model, tmp_path / "model.bin", format=fmt)
    before = path.read_bytes()

    def half_written(*args, **kwargs):
        handle = next(a for a in args if hasattr(a, "write"))
        handle.write(before[: len(before) // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(*writer, half_written)
    with pytest.raises(OSError, match="No space left"):
        hr.save(als_model, path, format=fmt)
    with pytest.raises(OSError, match="No space left"):
        hr.save(als_model, tmp_path / "other.bin", format=fmt)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["model.bin"]
    assert isinstance(hr.load(path, format=fmt), hr.HybridRecommender)


def test_interrupted_save_leaves_no_partial_file(als_model, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hybridrec.persistence._safe_format, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hr.save(als_model, tmp_path / "model.hybridrec")
    assert _files(tmp_path) == []


def test_loading_a_joblib_file_not_written_by_hybridrec(als_model, tmp_path):
    for name, content in [("dict.joblib", {"weights": [1, 2, 3]}), ("bare.joblib", als_model),
                          ("list.joblib", [1, 2])]:
        path = tmp_path / name
        joblib.dump(content, path)
        with pytest.raises(ValueError, match="hybridrec") as excinfo:
            hr.load(path, format="joblib")
        assert name in str(excinfo.value)


@pytest.mark.parametrize("fmt", ["hybridrec", "joblib"])
def test_loading_a_file_that_is_not_a_model_at_all(tmp_path, fmt):
    path = tmp_path / "ratings.csv"
    path.write_text("user_id,item_id\n1,2\n")
    with pytest.raises(ValueError) as excinfo:
        hr.load(path, format=fmt)
    assert "ratings.csv" in str(excinfo.value)


def test_missing_paths(als_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here.joblib"):
        hr.load(tmp_path / "nothing-here.joblib")
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        hr.save(als_model, tmp_path / "no-such-folder" / "model.hybridrec")
    assert _files(tmp_path) == []


@pytest.mark.parametrize("written, hint", [(1, "refit the model"), (99, "upgrade hybridrec")])
def test_other_model_formats_are_refused_clearly(als_model, tmp_path, written, hint):
    path = hr.save(als_model, tmp_path / "model.joblib", format="joblib")
    payload = joblib.load(path)
    payload["format"] = written
    joblib.dump(payload, path)
    with pytest.raises(ValueError, match=f"format {written}.*{hint}"):
        hr.load(path, format="joblib")
    safe = hr.save(als_model, tmp_path / "model.hybridrec")
    _edit_manifest(safe, lambda m: m.update(format=written))
    with pytest.raises(ValueError, match=f"format {written}.*{hint}"):
        hr.load(safe)
