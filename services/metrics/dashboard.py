"""The web dashboard: one page and its bundled assets (no CDN), and a live change stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse

from salesops.auth import Actor, current_actor
from salesops.web import asset_response, page_response

router = APIRouter(tags=["dashboard"])
STATIC = Path(__file__).resolve().parent / "static"
#: How often an idle stream says it is still there (proxies close silent connections).
KEEPALIVE_SECONDS = 15.0


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard/")


@router.get("/dashboard", include_in_schema=False)
async def dashboard_redirect() -> RedirectResponse:
    return RedirectResponse("/dashboard/")


@router.get("/dashboard/", include_in_schema=False)
async def page() -> FileResponse:
    return page_response(STATIC)


@router.get("/dashboard/assets/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    # The page's own files, and the ones it shares with the console (``common-*``).
    return asset_response(STATIC, name)


@router.get(
    "/changes",
    summary="Server-sent events: 'changed' whenever the figures changed",
    response_class=StreamingResponse,
)
async def changes(
    request: Request, actor: Annotated[Actor, Depends(current_actor)]
) -> StreamingResponse:
    feed = request.app.state.service.feed

    async def events() -> AsyncIterator[bytes]:
        queue = feed.subscribe()
        try:
            yield b"retry: 3000\n\n"
            while not await request.is_disconnected():
                try:
                    payload = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": still here\n\n"
                    continue
                while not queue.empty():  # a burst of batches is one change for a page
                    payload = queue.get_nowait()
                data = json.dumps({"generation": payload})
                yield f"event: changed\ndata: {data}\n\n".encode()
        finally:
            feed.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
