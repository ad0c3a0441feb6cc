"""hybridrec serve: POST /admin/reload swaps the model whole; requests in flight finish on the old one."""
from __future__ import annotations

import asyncio

import pytest

import hybridrec as hr

pytest.importorskip("fastapi", reason="fastapi is not installed: pip install 'hybridrec[serve]'")
httpx = pytest.importorskip("httpx", reason="httpx (FastAPI's test client) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from hybridrec.serve import Limits, create_app  # noqa: E402


def _model(sample, factors: int, seed: int) -> hr.HybridRecommender:
    als = hr.components.ALSComponent(factors=factors, iterations=3)
    return hr.HybridRecommender(components=[("als", als)], random_state=seed, show_progress=False).fit(
        sample.interactions, items=sample.items)


def _ids(response) -> list:
    return [r["item_id"] for r in response.json()["items"]]


def test_reload_swaps_the_model_whole_under_load(sample, tmp_path):
    old, new = _model(sample, 8, 0), _model(sample, 24, 1)
    path = tmp_path / "model.hybridrec"
    hr.save(old, path)
    app = create_app(hr.load(path), Limits(allow_reload=True, max_k=20), precompute=True, model_path=path)
    users = list(old.data_.user_ids[:12])
    lists = {which: {u: m.recommend(u, k=10)["item_id"].tolist() for u in users} for which, m in (("old", old),
                                                                                                 ("new", new))}
    assert any(lists["old"][u] != lists["new"][u] for u in users)
    hr.save(new, path)  # the operator replaces the file; the server still answers with the old model

    async def load_while_reloading() -> tuple[list, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            first = await http.get("/version")
            before = [await http.get("/recommend", params={"user": u, "k": 10}) for u in users]
            assert [_ids(r) for r in before] == [lists["old"][u] for u in users]
            during = [http.get("/recommend", params={"user": users[i % len(users)], "k": 10}) for i in range(300)]
            answers = await asyncio.gather(http.post("/admin/reload"), *during)
            after = [await http.get("/recommend", params={"user": u, "k": 10}) for u in users]
            return first.json(), answers, after, (await http.get("/version")).json(), (await http.get("/metrics")).text

    first, answers, after, version, metrics = asyncio.run(load_while_reloading())
    reload, during = answers[0], answers[1:]
    assert reload.status_code == 200 and reload.json()["model_version"] != first["model_version"]
    assert all(r.status_code == 200 for r in during)  # no request failed during the swap
    for i, response in enumerate(during):  # each list is wholly the old model's or wholly the new one's
        assert _ids(response) in (lists["old"][users[i % len(users)]], lists["new"][users[i % len(users)]])
    assert [_ids(r) for r in after] == [lists["new"][u] for u in users]
    assert version["model_version"] == reload.json()["model_version"]
    assert f'hybridrec_model_info{{version="{version["model_version"]}"}} 1.0' in metrics


def test_a_bad_file_leaves_the_model_serving_and_reload_needs_the_flag(sample, tmp_path):
    model = _model(sample, 8, 0)
    path = tmp_path / "model.hybridrec"
    hr.save(model, path)
    client = TestClient(create_app(hr.load(path), Limits(allow_reload=True), model_path=path))
    version = client.get("/version").json()["model_version"]
    path.write_bytes(b"not a model file")
    refused = client.post("/admin/reload")
    assert refused.status_code == 400 and "Traceback" not in refused.text
    assert client.get("/version").json()["model_version"] == version
    user = model.data_.user_ids[0]
    assert _ids(client.get("/recommend", params={"user": user, "k": 5})) == model.recommend(user, k=5)["item_id"].tolist()
    locked = TestClient(create_app(model, model_path=None))
    assert locked.post("/admin/reload").status_code == 403
    unsaved = TestClient(create_app(model, Limits(allow_reload=True)))
    assert unsaved.post("/admin/reload").status_code == 400


@pytest.mark.integration  # a server process
@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGHUP"), reason="the platform has no SIGHUP")
def test_sighup_reloads_the_file_and_sigterm_stops_the_server(sample, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from test_serve import _free_port, _wait_for

    old, new = _model(sample, 8, 0), _model(sample, 24, 1)
    path = tmp_path / "model.hybridrec"
    hr.save(old, path)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "hybridrec.cli", "serve", "--model", str(path), "--port",
                                str(port), "--allow-reload"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(f"{url}/health", process)
        user = old.data_.user_ids[0]
        first = httpx.get(f"{url}/version").json()["model_version"]
        assert _ids(httpx.get(f"{url}/recommend", params={"user": user})) == old.recommend(user)["item_id"].tolist()
        hr.save(new, path)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/version").json()["model_version"] == first:  # the old model answers meanwhile
            assert time.monotonic() < deadline, "SIGHUP did not reload the model within 60 s"
            time.sleep(0.2)
        assert _ids(httpx.get(f"{url}/recommend", params={"user": user})) == new.recommend(user)["item_id"].tolist()
        process.send_signal(signal.SIGTERM)  # uvicorn finishes in-flight requests, then re-raises the signal
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
