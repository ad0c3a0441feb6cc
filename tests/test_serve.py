"""hybridrec serve: the JSON API against the Python API, clear 4xx errors, the CLI server and the web page in a browser."""
from __future__ import annotations

import copy
import json
import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr

pytest.importorskip("fastapi", reason="fastapi is not installed: pip install 'hybridrec[serve]'")
pytest.importorskip("httpx", reason="httpx (FastAPI's test client) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from hybridrec.serve import Limits, create_app  # noqa: E402


@pytest.fixture(scope="module")
def client(fitted_sample_model) -> TestClient:
    return TestClient(create_app(fitted_sample_model, Limits(max_k=50, max_text_chars=200)))


@pytest.fixture(scope="module")
def user(sample) -> int:
    return int(sample.interactions["user_id"].iloc[0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_api_answers_as_the_python_api_does(client, fitted_sample_model, sample, user):
    model = fitted_sample_model
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/version").json()
    assert info["hybridrec"] == hr.__version__ and info["domains"] == model.data_.domains
    got = client.get("/recommend", params={"user": user, "k": 7, "domain": "drama", "cross_domain_weight": 0.3}).json()
    expected = model.recommend(user, k=7, domain="drama", cross_domain_weight=0.3)
    assert [r["item_id"] for r in got["items"]] == expected["item_id"].tolist()
    assert [r["rank"] for r in got["items"]] == list(range(1, 8))
    first = got["items"][0]
    assert first["text"] == model.data_.item_texts[model.data_.item_index([first["item_id"]])[0]]
    explained = client.get("/recommend", params={"user": user, "k": 3, "explain": True}).json()["items"]
    assert all(r["explanation"] for r in explained)
    found = client.get("/search", params={"q": "a heist with a clever twist", "k": 5}).json()
    assert [r["item_id"] for r in found["items"]] == \
        model.recommend_for_text("a heist with a clever twist", k=5)["item_id"].tolist()
    history = sample.interactions[sample.interactions["user_id"] == user].head(5)
    posted = client.post("/recommend", json={"history": [{"item_id": int(i)} for i in history["item_id"]], "k": 5}).json()
    assert [r["item_id"] for r in posted["items"]] == \
        model.recommend_new(history[["user_id", "item_id"]].assign(user_id="x"), k=5)["item_id"].tolist()
    item = first["item_id"]
    assert client.get("/explain", params={"user": user, "item": item}).json()["sentence"] == \
        model.explain(user, item)["sentence"]
    looked_up = client.get(f"/items/{item}").json()
    assert looked_up["text"] == first["text"] and looked_up["held"] is False
    assert len(client.get("/users", params={"limit": 5}).json()["users"]) == 5
    assert "<form" in client.get("/").text


def test_the_api_scores_are_the_python_apis(client, fitted_sample_model, sample, user):
    model = fitted_sample_model
    got = client.get("/recommend", params={"user": user, "k": 12}).json()["items"]
    expected = model.recommend(user, k=12)
    assert [(r["item_id"], r["domain"]) for r in got] == list(zip(expected["item_id"], expected["domain"]))
    np.testing.assert_allclose([r["score"] for r in got], expected["score"], rtol=1e-12)
    history = sample.interactions[sample.interactions["user_id"] == user].head(6)
    weights = [1.0, 3.0, 2.0, 1.0, 5.0, 2.0][:len(history)]
    body = {"history": [{"item_id": int(i), "weight": w} for i, w in zip(history["item_id"], weights)], "k": 6,
            "text": "something dark"}
    posted = client.post("/recommend", json=body).json()["items"]
    rows = history[["user_id", "item_id"]].assign(user_id="x", weight=weights)
    expected = model.recommend_new(rows, texts={"x": "something dark"}, k=6)
    assert [r["item_id"] for r in posted] == expected["item_id"].tolist()
    np.testing.assert_allclose([r["score"] for r in posted], expected["score"], rtol=1e-12)


def test_precomputed_lists_are_the_models_lists(fitted_sample_model):
    model = fitted_sample_model
    client = TestClient(create_app(model, Limits(max_k=30), precompute=True))
    for user in model.data_.user_ids[:8]:
        for domain in (None, *model.data_.domains):
            for k in (1, 10, 30):
                params = {"user": user, "k": k, **({"domain": domain} if domain else {})}
                got = client.get("/recommend", params=params).json()["items"]
                expected = model.recommend(user, k=k, domain=domain)
                assert [r["item_id"] for r in got] == expected["item_id"].tolist()
                # computed in a batch of users: the same up to float32 rounding (other BLAS kernels)
                np.testing.assert_allclose([r["score"] for r in got], expected["score"], rtol=1e-6)
    other = client.get("/recommend", params={"user": model.data_.user_ids[0], "k": 5, "cross_domain_weight": 0.1})
    assert [r["item_id"] for r in other.json()["items"]] == \
        model.recommend(model.data_.user_ids[0], k=5, cross_domain_weight=0.1)["item_id"].tolist()
    assert client.get("/recommend", params={"user": model.data_.user_ids[0], "domain": "westerns"}).status_code == 400


def test_concurrent_queries_and_histories_are_ranked_together_as_if_alone(fitted_sample_model, sample):
    import asyncio

    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    model = fitted_sample_model
    app = create_app(model)
    queries = ["a heist with a clever twist", "a gentle family film", "space adventure", "a dark war drama",
               "a funny love story", "detective story"]
    users = model.data_.user_ids[:5]
    posted = []
    for n, user in enumerate(users):
        rows = sample.interactions[sample.interactions["user_id"] == user].head(3 + n)
        posted.append([{"item_id": int(i), "weight": float(1 + (j % 3))} for j, i in enumerate(rows["item_id"])])

    async def send() -> list:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            return await asyncio.gather(
                *[http.get("/search", params={"q": q, "k": 4 + i}) for i, q in enumerate(queries)],
                *[http.post("/recommend", json={"history": h, "k": 6, "domain": "drama"}) for h in posted],
                http.post("/recommend", json={"history": [{"item_id": "nope"}], "k": 6, "domain": "drama"}))

    responses = asyncio.run(send())
    for i, (query, response) in enumerate(zip(queries, responses)):
        expected = model.recommend_for_text(query, k=4 + i)
        assert [r["item_id"] for r in response.json()["items"]] == expected["item_id"].tolist()
        np.testing.assert_allclose([r["score"] for r in response.json()["items"]], expected["score"], rtol=1e-6)
    for history, response in zip(posted, responses[len(queries):]):
        rows = pd.DataFrame({"user_id": "x", "item_id": [h["item_id"] for h in history],
                             "weight": [h["weight"] for h in history]})
        expected = model.recommend_new(rows, k=6, domain="drama")
        assert [r["item_id"] for r in response.json()["items"]] == expected["item_id"].tolist()
        np.testing.assert_allclose([r["score"] for r in response.json()["items"]], expected["score"], rtol=1e-6)
    assert responses[-1].status_code == 400 and "nope" in responses[-1].json()["detail"]  # the others were served
    async def metrics() -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            return (await http.get("/metrics")).text

    calls = {s.labels["kind"]: s.value for f in text_string_to_metric_families(asyncio.run(metrics()))
             for s in f.samples if s.name == "hybridrec_batch_size_count"}
    assert calls["search"] < len(queries) and calls["history"] < len(posted) + 1  # fewer model calls than requests


def test_the_query_encoder_backend_is_chosen_and_reported(fitted_sample_model):
    pytest.importorskip("onnxruntime", reason="the onnx-int8 backend needs onnxruntime (in the test extra)")
    from hybridrec.serve import chosen_backend

    model = copy.deepcopy(fitted_sample_model)
    assert chosen_backend(model.encoder_, "fastest") == "onnx-int8" and chosen_backend(model.encoder_, "model") == "torch"
    with pytest.raises(ValueError, match="encoder_backend must be one of"):
        chosen_backend(model.encoder_, "gpu")
    client = TestClient(create_app(model, encoder_backend="fastest"))
    assert client.get("/version").json()["encoder_backend"] == "onnx-int8"
    got = client.get("/search", params={"q": "a gentle family film", "k": 6}).json()["items"]
    assert [r["item_id"] for r in got] == model.recommend_for_text("a gentle family film", k=6)["item_id"].tolist()
    assert fitted_sample_model.encoder_.backend == "torch"  # the copy was changed, not the fixture


def test_metrics_count_requests_per_route_and_logs_hold_no_text(fitted_sample_model, user, caplog):
    from prometheus_client.parser import text_string_to_metric_families

    model = fitted_sample_model
    client = TestClient(create_app(model))
    with caplog.at_level(logging.INFO, logger="hybridrec.access"):
        client.get("/recommend", params={"user": user, "k": 3})
        client.get("/recommend", params={"user": user, "k": 4})
        client.get("/search", params={"q": "my secret wish"})
        client.get("/items/nope")
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    counts = {(s.labels["route"], s.labels["status"]): s.value
              for s in families["hybridrec_requests"].samples if s.name == "hybridrec_requests_total"}
    assert counts[("/recommend", "200")] == 2 and counts[("/search", "200")] == 1
    assert counts[("/items/{item_id}", "404")] == 1  # the route's template, never the raw path
    latency = {s.labels["route"]: s.value for s in families["hybridrec_request_seconds"].samples
               if s.name == "hybridrec_request_seconds_count"}
    assert latency["/recommend"] == 2
    gauges = {f.name: f.samples[0] for f in families.values() if f.name.startswith("hybridrec_model")}
    assert gauges["hybridrec_model_items"].value == model.data_.n_items
    assert gauges["hybridrec_model_users"].value == model.data_.n_users
    assert gauges["hybridrec_model_info"].labels["version"] == client.get("/version").json()["model_version"]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "hybridrec.access"]
    assert [(line["route"], line["status"]) for line in lines] == [
        ("/recommend", 200), ("/recommend", 200), ("/search", 200), ("/items/{item_id}", 404)]
    assert all(set(line) == {"method", "route", "status", "ms"} for line in lines)  # no ids, texts or queries
    written = " ".join(r.getMessage() for r in caplog.records if r.name == "hybridrec.access")
    assert "secret" not in written and "nope" not in written and "q=" not in written


@pytest.mark.parametrize("method, url, body, status, fragment", [
    ("get", "/recommend?user=999999999", None, 404, "Unknown user"),
    ("get", "/recommend?user=1&k=0", None, 422, "greater than or equal to 1"),
    ("get", "/recommend?user=1&k=51", None, 422, "less than or equal to 50"),
    ("get", "/recommend?user=1&k=ten", None, 422, "valid integer"),
    ("get", "/recommend?user=1&domain=westerns", None, 400, "Unknown domain 'westerns'"),
    ("get", "/recommend?user=1&cross_domain_weight=2", None, 422, "less than or equal to 1"),
    ("get", "/search?q=" + "x" * 201, None, 413, "the limit is 200"),
    ("get", "/search?q=", None, 422, "at least 1 character"),
    ("get", "/items/nope", None, 404, "Unknown item 'nope'"),
    ("get", "/explain?user=1&item=nope", None, 404, "Unknown item"),
    ("post", "/recommend", {"history": []}, 400, "non-empty history"),
    ("post", "/recommend", {"history": [{"item_id": "nope"}]}, 400, "nope"),
    ("post", "/recommend", {"history": "not a list"}, 422, "valid list"),
    ("post", "/users", {"user_id": "new", "history": [{"item_id": 1}]}, 403, "--allow-fold-in"),
])
def test_bad_requests_get_clear_4xx_messages_and_no_stack_trace(client, fitted_sample_model, user, method, url, body,
                                                                status, fragment):
    before = fitted_sample_model.data_.n_users
    response = getattr(client, method)(url, **({"json": body} if body is not None else {}))
    assert response.status_code == status, response.text
    assert fragment in response.text and "Traceback" not in response.text and 'File "' not in response.text
    assert fitted_sample_model.data_.n_users == before  # nothing changed the model


def test_fold_in_only_when_allowed(sample):
    model = hr.HybridRecommender(components=[("als", hr.components.ALSComponent(factors=8, iterations=2))],
                                 show_progress=False).fit(sample.interactions, items=sample.items)
    client = TestClient(create_app(model, Limits(allow_fold_in=True)))
    items = sample.interactions["item_id"].head(4).tolist()
    assert client.post("/users", json={"user_id": "9999999", "history": [{"item_id": i} for i in items]}).status_code == 200
    assert model.data_.user_ids[-1] == "9999999"


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else "the server exited"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="module")
def server(fitted_sample_model, tmp_path_factory):
    """``hybridrec serve`` in a subprocess on a free localhost port."""
    path = hr.save(fitted_sample_model, tmp_path_factory.mktemp("serve") / "m.hybridrec")
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "hybridrec.cli", "serve", "--model", str(path), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.integration  # a server process
def test_the_cli_server_answers_on_localhost(server, fitted_sample_model, user):
    import httpx

    got = httpx.get(f"{server}/recommend", params={"user": user, "k": 5}).json()
    assert [r["item_id"] for r in got["items"]] == fitted_sample_model.recommend(user, k=5)["item_id"].tolist()


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("the browser test needs Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver); .ci/run installs them")
    selenium = pytest.importorskip("selenium", reason="selenium is not installed (it is in the test extra)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    del selenium
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.mark.integration  # a server process and a browser
def test_the_page_in_a_headless_browser_shows_recommendations(server, fitted_sample_model, user):
    import httpx
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _browser()
    try:
        browser.get(server + "/")
        wait = WebDriverWait(browser, 60)
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#user option")) > 1)
        # A text query, in one domain.
        browser.find_element(By.ID, "query").send_keys("a heist with a clever twist")
        Select(browser.find_element(By.ID, "domain")).select_by_value("thriller")
        browser.find_element(By.ID, "go").click()
        wait.until(EC.visibility_of_element_located((By.ID, "results")))
        rows = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        # the CLI server encodes queries with the fastest backend installed: the same one here
        reference = copy.deepcopy(fitted_sample_model)
        reference.encoder_.set_params(backend=httpx.get(server + "/version").json()["encoder_backend"])
        expected = reference.recommend_for_text("a heist with a clever twist", k=10, domain="thriller")
        titles = [reference.data_.item_texts[i] for i in reference.data_.item_index(expected["item_id"])]
        assert [r.find_elements(By.TAG_NAME, "td")[1].text.split("\n")[0] for r in rows] == titles
        # A user, with the explanation sentence under each title.
        browser.find_element(By.ID, "query").clear()
        Select(browser.find_element(By.ID, "user")).select_by_value(str(user))
        browser.find_element(By.ID, "go").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#results .why"))
        why = browser.find_elements(By.CSS_SELECTOR, "#results .why")
        assert len(why) == 10 and f"for user {user}" in why[0].text
    finally:
        browser.quit()


def test_cli_serve_refuses_bad_options(tmp_path, fitted_sample_model, capsys):
    from hybridrec.cli import main

    path = hr.save(fitted_sample_model, tmp_path / "m.hybridrec")
    assert main(["serve", "--model", str(path), "--max-k", "0"]) == 2
    assert "--max-k must be a positive integer" in capsys.readouterr().err
    assert main(["serve", "--model", str(Path(tmp_path) / "none.hybridrec")]) == 2
    assert "No model file" in capsys.readouterr().err
