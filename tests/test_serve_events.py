"""hybridrec serve --allow-updates: POST /events, reflected (in order, seen items left out) in the user's next request."""
from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="fastapi is not installed: pip install 'hybridrec[serve]'")
pytest.importorskip("httpx", reason="httpx (FastAPI's test client) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from hybridrec.serve import Limits, create_app  # noqa: E402


def _ids(response) -> list:
    assert response.status_code == 200, response.text
    return [r["item_id"] for r in response.json()["items"]]


@pytest.fixture(scope="module")
def client(fitted_sample_model) -> TestClient:
    return TestClient(create_app(fitted_sample_model, Limits(allow_updates=True), precompute=True))


def test_a_read_only_server_refuses_events(fitted_sample_model):
    client = TestClient(create_app(fitted_sample_model))
    user, item = fitted_sample_model.data_.user_ids[0], fitted_sample_model.data_.item_ids[0]
    response = client.post("/events", json={"user_id": int(user), "events": [{"item_id": int(item)}]})
    assert response.status_code == 403 and "--allow-updates" in response.text


def test_a_known_users_event_shows_in_the_next_request(client, fitted_sample_model, sample):
    model = fitted_sample_model
    user = model.data_.user_ids[3]
    before = _ids(client.get("/recommend", params={"user": user, "k": 10}))
    top = before[0]
    posted = client.post("/events", json={"user_id": str(user), "events": [{"item_id": top, "weight": 2.0}]})
    assert posted.json() == {"user": int(user), "events": 1}
    after = _ids(client.get("/recommend", params={"user": user, "k": 10}))
    assert top not in after and after != before  # seen now, and the profile moved
    # what the model gives for the user's whole history with the new event last
    rows = sample.interactions[sample.interactions["user_id"] == user][["user_id", "item_id", "weight", "timestamp"]]
    rows = pd.concat([rows, pd.DataFrame({"user_id": [user], "item_id": [top], "weight": [2.0],
                                          "timestamp": [rows["timestamp"].max() + 1]})], ignore_index=True)
    text = model.data_.user_texts[model.data_.user_index([user])[0]]
    expected = model.recommend_new(rows, texts={user: text}, k=10)
    assert after == expected["item_id"].tolist()
    others = model.data_.user_ids[4]  # users without events still get their stored lists
    assert _ids(client.get("/recommend", params={"user": others, "k": 5})) == model.recommend(others, k=5)[
        "item_id"].tolist()


def test_a_new_users_events_are_read_in_order(client, fitted_sample_model):
    model = fitted_sample_model
    items = [int(i) for i in model.data_.item_ids[[10, 200, 1500, 40]]]
    assert client.get("/recommend", params={"user": "visitor-1"}).status_code == 404
    for user, order in (("visitor-1", items), ("visitor-2", items[::-1])):
        for item in order[:2]:  # two posts: the second's events come after the first's
            client.post("/events", json={"user_id": user, "events": [{"item_id": item}]})
        client.post("/events", json={"user_id": user, "events": [{"item_id": i} for i in order[2:]]})
        got = _ids(client.get("/recommend", params={"user": user, "k": 8, "domain": "drama"}))
        expected = model.recommend_new(pd.DataFrame({"user_id": user, "item_id": order}), k=8, domain="drama")
        assert got == expected["item_id"].tolist() and not set(got) & set(order)


@pytest.mark.parametrize("body, status, fragment", [
    ({"user_id": 1, "events": [{"item_id": "nope"}]}, 400, "nope"),
    ({"user_id": 1, "events": [{"item_id": 1, "weight": -1}]}, 400, "finite numbers >= 0"),
    ({"user_id": 1, "events": [{"item_id": 1, "weight": "lots"}]}, 400, "finite numbers >= 0"),
    ({"user_id": 1, "events": []}, 400, "non-empty"),
])
def test_bad_events_are_refused_and_change_nothing(client, fitted_sample_model, body, status, fragment):
    assert 1 in fitted_sample_model.data_.user_ids and 1 in fitted_sample_model.data_.item_ids
    response = client.post("/events", json=body)
    assert response.status_code == status and fragment in response.text
    # user 1 has no events: still the stored list
    assert _ids(client.get("/recommend", params={"user": 1, "k": 5})) == fitted_sample_model.recommend(1, k=5)[
        "item_id"].tolist()


def test_a_snapshot_saves_the_live_events_and_a_reload_serves_it_without_counting_them_twice(
        fitted_sample_model, tmp_path):
    import hybridrec as hr

    path = tmp_path / "model.hybridrec"
    hr.save(fitted_sample_model, path)
    limits = Limits(allow_updates=True, allow_reload=True, snapshot=path)
    client = TestClient(create_app(hr.load(path), limits, precompute=True, model_path=path))
    refused = TestClient(create_app(fitted_sample_model, Limits(allow_updates=True)))
    assert refused.post("/admin/snapshot").status_code == 403
    model = fitted_sample_model
    user, items = int(model.data_.user_ids[7]), [int(i) for i in model.data_.item_ids[[15, 300, 1200]]]
    client.post("/events", json={"user_id": user, "events": [{"item_id": items[0], "weight": 2.0}]})
    client.post("/events", json={"user_id": "visitor", "events": [{"item_id": i} for i in items]})
    served = {u: _ids(client.get("/recommend", params={"user": u, "k": 10})) for u in (user, "visitor")}
    saved = client.post("/admin/snapshot").json()
    assert saved["users"] == 2 and saved["events"] == 4 and saved["path"] == str(path)
    later = [{"item_id": items[1]}]  # posted after the snapshot: it must survive the reload
    client.post("/events", json={"user_id": user, "events": later})
    snapshot = hr.load(path)
    assert "visitor" in set(snapshot.data_.user_ids) and snapshot.data_.n_users == model.data_.n_users + 1
    for u in (user, "visitor"):  # the saved model ranks as the server did from its overlay
        assert snapshot.recommend(u, k=10)["item_id"].tolist() == served[u]
    assert client.post("/admin/reload").json()["model_version"] == saved["model_version"]
    assert _ids(client.get("/recommend", params={"user": "visitor", "k": 10})) == served["visitor"]
    expected = snapshot.add_interactions(pd.DataFrame({"user_id": [user], "item_id": [items[1]]}))
    assert _ids(client.get("/recommend", params={"user": user, "k": 10})) == expected.recommend(user, k=10)[
        "item_id"].tolist()
