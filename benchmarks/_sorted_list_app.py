"""The baseline of the recommendation latency benchmark: a FastAPI endpoint that only sorts a
cached list of 1,000 scored items and answers the best ten, served by uvicorn as intentflow is.

Run: ``python -m uvicorn _sorted_list_app:app --port N`` (from ``benchmarks/``).
"""

from __future__ import annotations

import random
from typing import Any

from fastapi import FastAPI

app = FastAPI()
_rng = random.Random(0)
CACHED = [(f"sku-{n}", _rng.random()) for n in range(1_000)]


@app.get("/v1/recommendations/{user_id}")
def recommendations(user_id: str, n: int = 10) -> dict[str, Any]:
    """The best ``n`` of the cached list."""
    best = sorted(CACHED, key=lambda pair: -pair[1])[:n]
    return {"user_id": user_id, "items": [{"item_id": i, "score": s} for i, s in best]}
