"""Quickstart: fit on the bundled sample, recommend across domains, explain, save and load.

Run:  python examples/quickstart.py
Everything runs offline: the sample and the text model ship with the installed packages.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

import hybridrec as hr


def main() -> None:
    data = hr.datasets.load_sample()
    titles = data.items.set_index("item_id")["title"]

    model = hr.HybridRecommender(cross_domain_weight=0.5, random_state=0)
    model.fit(data.interactions, items=data.items, users=data.users)

    # Top 5 family movies for two users, with the component contributions behind each.
    recs = model.recommend([1, 2], k=5, domain="family", explain=True)
    recs["title"] = recs["item_id"].map(titles)
    print(recs[["user_id", "rank", "title", "score"]].to_string(index=False))
    print(recs["explanation"].iloc[0])

    # Score arbitrary (user, item) pairs.
    pairs = pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2571]})  # Toy Story, The Matrix
    print("predict:", model.predict(pairs).round(3).tolist())

    # A brand-new user known by three liked movies, and a free-text query.
    history = pd.DataFrame({"user_id": "newcomer", "item_id": [1, 2355, 4886]})
    print(model.recommend_new(history, k=3, domain="family").assign(title=lambda f: f["item_id"].map(titles)))
    print(model.recommend_for_text("heist movie with a clever twist", k=3, domain="thriller"))

    # Save and load (the default format loads without unpickling; see the README's Persistence section).
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.hybridrec"
        hr.save(model, path)
        again = hr.load(path)
        cols = ["user_id", "item_id", "rank"]
        same = again.recommend([1, 2], k=5)[cols].equals(model.recommend([1, 2], k=5)[cols])
        print("same recommendations after save/load:", same)


if __name__ == "__main__":
    main()
