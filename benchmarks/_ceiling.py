"""The ingestion benchmark's ceiling: the same web stack, an endpoint that only parses JSON."""

from __future__ import annotations

import sys

import msgspec
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()
_OK = b'{"accepted":0,"duplicates":0,"rejected":[]}'


@app.post("/v1/events")
async def parse_only(request: Request) -> Response:
    """Parse the body and answer 200; nothing is validated or stored."""
    msgspec.json.decode(await request.body())
    return Response(_OK, media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
