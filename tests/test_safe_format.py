"""The safe model format: every component round-trips, and crafted files are refused without running anything."""
from __future__ import annotations

import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec import components as C
from hybridrec.persistence import UnsafeModelError, allow

SENTINEL_ENV = "HYBRIDREC_TEST_SENTINEL"


class _Trap:
    """Running any of this class's code during a load would create the sentinel file."""

    def __reduce__(self):
        return (Path.touch, (Path(os.environ[SENTINEL_ENV]),))

    def __setstate__(self, state):
        Path(os.environ[SENTINEL_ENV]).touch()


@pytest.fixture()
def sentinel(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "code-ran"
    monkeypatch.setenv(SENTINEL_ENV, str(path))
    return path


@pytest.fixture(scope="module")
def every_component(sample) -> hr.HybridRecommender:
    comps = [("als", C.ALSComponent(factors=8, iterations=3)), ("itemknn", C.ItemKNNComponent()),
             ("ease", C.EASEComponent()), ("svd", C.PureSVDComponent(factors=8)),
             ("lightfm", C.LightFMComponent(epochs=2)), ("semantic", C.SemanticComponent()),
             ("textknn", C.TextKNNComponent()), ("popularity", C.PopularityComponent()),
             ("tower", C.TowerComponent(max_epochs=1, valid_users=50, random_state=0))]
    return hr.HybridRecommender(components=comps, random_state=0, show_progress=False).fit(
        sample.interactions, items=sample.items, users=sample.users)


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rewrite(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_every_component_round_trips_with_identical_results(every_component, sample, tmp_path):
    model = every_component
    path = hr.save(model, tmp_path / "m.hybridrec")
    loaded = hr.load(path)
    users = sample.interactions["user_id"].unique()[:30].tolist()
    for domain, weight in ((None, None), ("drama", 0.3)):
        pd.testing.assert_frame_equal(loaded.recommend(users, k=10, domain=domain, cross_domain_weight=weight),
                                      model.recommend(users, k=10, domain=domain, cross_domain_weight=weight))
    pd.testing.assert_frame_equal(loaded.recommend_for_text(["a space adventure"], k=5),
                                  model.recommend_for_text(["a space adventure"], k=5))
    item = model.recommend(users[0], k=1)["item_id"].iloc[0]
    assert loaded.explain(users[0], item)["sentence"] == model.explain(users[0], item)["sentence"]
    assert {name: type(c) for name, c in loaded.components_.items()} == \
        {name: type(c) for name, c in model.components_.items()}
    # The file is a zip of a JSON manifest and .npy arrays: no member is a pickle.
    members = _members(path)
    assert set(members) == {"manifest.json"} | {n for n in members if n.startswith("arrays/") and n.endswith(".npy")}
    manifest = json.loads(members["manifest.json"])
    assert manifest["versions"]["hybridrec"] == hr.__version__ and manifest["versions"]["numpy"] == np.__version__
    assert manifest["components"]["tower"] == "hybridrec.components.tower.TowerComponent"
    # The loaded model saves again, and the second file loads to the same lists.
    again = hr.load(hr.save(loaded, tmp_path / "again.hybridrec"))
    pd.testing.assert_frame_equal(again.recommend(users, k=5), model.recommend(users, k=5))


def test_a_class_outside_the_allowlist_is_refused_and_nothing_runs(every_component, tmp_path, sentinel):
    path = hr.save(every_component, tmp_path / "m.hybridrec")
    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    manifest["model"]["state"]["v"][0][1] = {"$t": "obj", "id": 10**6, "cls": f"{__name__}._Trap", "state": {"$t": "dict", "v": []}}
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(path, members)
    with pytest.raises(UnsafeModelError, match=r"_Trap.*not on hybridrec's allowlist.*nothing was run"):
        hr.load(path)
    for dotted in ("os.system", "subprocess.Popen", "builtins.eval"):
        manifest["model"] = {"$t": "obj", "id": 0, "cls": dotted, "state": {"$t": "dict", "v": []}}
        members["manifest.json"] = json.dumps(manifest).encode()
        _rewrite(path, members)
        with pytest.raises(UnsafeModelError, match="allowlist"):
            hr.load(path)
    assert not sentinel.exists()


def test_a_smuggled_pickle_is_refused_and_nothing_runs(every_component, tmp_path, sentinel):
    path = hr.save(every_component, tmp_path / "m.hybridrec")
    members = _members(path)
    # An array member whose .npy holds a pickled object array.
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Trap()], dtype=object), allow_pickle=True)
    members["arrays/0.npy"] = buffer.getvalue()
    _rewrite(path, members)
    with pytest.raises(UnsafeModelError, match="without unpickling"):
        hr.load(path)
    # A pickle (or joblib) file handed to the default load.
    for name, dump in (("trap.pkl", lambda p: p.write_bytes(pickle.dumps(_Trap()))),
                       ("trap.joblib", lambda p: joblib.dump({"model": _Trap(), "versions": {}}, p))):
        dump(tmp_path / name)
        with pytest.raises(ValueError, match="not a model in hybridrec's safe format.*format='joblib'"):
            hr.load(tmp_path / name)
    assert not sentinel.exists()


def test_versions_warn_and_a_newer_layout_is_refused(every_component, tmp_path):
    path = hr.save(every_component, tmp_path / "m.hybridrec")
    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    manifest["versions"]["scipy"] = "0.0.1"
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(path, members)
    with pytest.warns(UserWarning, match="scipy 0.0.1 -> "):
        hr.load(path)
    manifest["safe_format"] = 99
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(path, members)
    with pytest.raises(ValueError, match="layout 99.*upgrade hybridrec"):
        hr.load(path)


class _Doubler(C.PopularityComponent):
    """A user's own component (a subclass, not registered under a name of its own)."""


def test_a_users_own_class_loads_once_allowed(sample, tmp_path):
    model = hr.HybridRecommender(components=[("mine", _Doubler())], weights={"mine": 1.0}, show_progress=False).fit(
        sample.interactions, items=sample.items)
    with pytest.raises(TypeError, match=r"model.components\[0\]\[1\] is a test_safe_format._Doubler.*allow"):
        hr.save(model, tmp_path / "m.hybridrec")
    assert not list(tmp_path.iterdir())
    allow(_Doubler)
    path = hr.save(model, tmp_path / "m.hybridrec")
    pd.testing.assert_frame_equal(hr.load(path).recommend(1, k=3), model.recommend(1, k=3))


_KILLED_WRITER = """
import sys, hybridrec as hr
model = hr.load(sys.argv[1])
print("ready", flush=True)
while True:
    hr.save(model, sys.argv[1])
"""


def test_a_save_killed_mid_write_leaves_the_previous_file_loadable(every_component, sample, tmp_path):
    path = hr.save(every_component, tmp_path / "m.hybridrec")
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.005)  # kill it while a temporary file is being written
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before or zipfile.is_zipfile(path)  # the old file, or a complete new one
    users = sample.interactions["user_id"].unique()[:5].tolist()
    pd.testing.assert_frame_equal(hr.load(path).recommend(users, k=5), every_component.recommend(users, k=5))


def test_a_model_saved_without_user_data_keeps_none_and_still_serves_queries_histories_and_items(
        every_component, sample, tmp_path):
    model = every_component
    path = hr.save(model, tmp_path / "private.hybridrec", include_user_data=False)
    raw = b"".join(_members(path).values())
    user_text = sample.users["text"].iloc[0]
    assert user_text.encode() not in raw and user_text.encode() in b"".join(
        _members(hr.save(model, tmp_path / "full.hybridrec")).values())
    private = hr.load(path)
    assert private.data_.n_users == 0 and private.data_.user_texts is None
    assert private.components_["als"].user_factors_.shape[0] == 0
    assert model.data_.n_users == len(model.data_.user_ids) > 0  # the fitted model is untouched
    # Text queries and posted histories give the full model's lists.
    pd.testing.assert_frame_equal(private.recommend_for_text(["a space adventure"], k=5),
                                  model.recommend_for_text(["a space adventure"], k=5))
    user = sample.interactions["user_id"].iloc[0]
    history = sample.interactions[sample.interactions["user_id"] == user].assign(user_id="visitor")
    pd.testing.assert_frame_equal(private.recommend_new(history, k=5), model.recommend_new(history, k=5))
    # Training users are gone, with a message that says why.
    with pytest.raises(ValueError, match="saved with include_user_data=False"):
        private.recommend(user, k=5)
    # Folding in and adding items still work.
    private.fold_in_users(history)
    assert len(private.recommend("visitor", k=5)) == 5
    new = pd.DataFrame({"item_id": [10**7], "text": ["a space adventure on a distant planet"], "domain": ["drama"]})
    private.add_items(new)
    assert 10**7 in set(private.recommend_for_text("space adventure planet", k=10, domain="drama")["item_id"])
    with pytest.raises(TypeError, match="include_user_data"):
        hr.save(model, tmp_path / "x.hybridrec", include_user_data="no")


def test_user_texts_and_queries_never_reach_the_logs(sample, caplog):
    secret_user, secret_query = "my private diary about tax trouble", "a confidential query about tax trouble"
    users = pd.concat([sample.users, pd.DataFrame({"user_id": [10**6], "text": [secret_user]})])
    with caplog.at_level("DEBUG", logger="hybridrec"):
        model = hr.HybridRecommender(components=[("semantic", C.SemanticComponent())], show_progress=False).fit(
            sample.interactions, items=sample.items, users=users)
        model.recommend(10**6, k=3)
        model.recommend_for_text([secret_query, ""], k=3)
    assert caplog.records  # something was logged at all
    assert "tax trouble" not in caplog.text


def test_a_manifest_nested_too_deep_is_refused(every_component, tmp_path):
    path = hr.save(every_component, tmp_path / "m.hybridrec")
    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    manifest["model"] = None
    nested = '{"$t": "tuple", "v": [' * 100_000 + "null" + "]}" * 100_000
    members["manifest.json"] = json.dumps(manifest).replace('"model": null', '"model": ' + nested).encode()
    _rewrite(path, members)
    with pytest.raises(UnsafeModelError, match="deeper than Python can read"):
        hr.load(path)
