"""Bare FastAPI baselines, served with the same uvicorn settings as `cellmon serve`.

- ingest: `POST /api/v1/events` only validates the events with pydantic (the same camelCase
  shape, bench/events.py) and answers 202 — no queue, no database.
- ws: `/ws` keeps every socket in a set; `POST /api/v1/events` validates the events and sends
  each one to every socket in turn (`await send_json` per socket, the naive broadcast of
  FastAPI's documentation); `POST /api/v1/broadcast` sends its body's message the same way.

    python -m bench.baseline {ingest|ws} --port PORT
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from bench.events import CLIENT_EVENTS


def _accepted(count: int) -> JSONResponse:
    return JSONResponse(
        {"message": f"{count} events received and queued for processing."}, status_code=202
    )


def ingest_app() -> FastAPI:
    app = FastAPI()

    @app.post("/api/v1/events", status_code=202)
    async def receive(request: Request) -> JSONResponse:
        try:
            events = CLIENT_EVENTS.validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"detail": exc.errors(include_url=False)}, status_code=422)
        return _accepted(len(events))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def ws_app() -> FastAPI:
    app = FastAPI()
    sockets: set[WebSocket] = set()

    async def send_to_all(message: dict[str, Any]) -> None:
        for socket in list(sockets):
            try:
                await socket.send_json(message)
            except (WebSocketDisconnect, RuntimeError):
                sockets.discard(socket)

    @app.websocket("/ws")
    async def subscribe(socket: WebSocket) -> None:
        await socket.accept()
        sockets.add(socket)
        try:
            while True:
                request = await socket.receive_json()
                await socket.send_json({"type": "subscribed", "channels": request.get("channels")})
        except WebSocketDisconnect:
            pass
        finally:
            sockets.discard(socket)

    @app.post("/api/v1/events", status_code=202)
    async def receive(request: Request) -> JSONResponse:
        events = CLIENT_EVENTS.validate_json(await request.body())
        for event in events:
            await send_to_all(
                {
                    "type": "execution_update",
                    "channel": "broadcast",
                    "data": event.model_dump(mode="json"),
                }
            )
        return _accepted(len(events))

    @app.post("/api/v1/broadcast", status_code=202)
    async def broadcast(request: Request) -> JSONResponse:
        payload = await request.json()
        await send_to_all({"type": "system_message", "channel": "broadcast", "data": payload})
        return JSONResponse({"sent": len(sockets)}, status_code=202)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["ingest", "ws"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = ingest_app() if args.kind == "ingest" else ws_app()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
