"""Server-sent events telling open playground pages that the workspace changed."""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
_CLOSE = object()


class LiveStream:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[object]] = set()

    def publish(self, kind: str, version: int) -> None:
        for queue in self._queues:
            queue.put_nowait({"kind": kind, "version": version})

    def close_all(self) -> None:
        for queue in self._queues:
            queue.put_nowait(_CLOSE)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._queues.add(queue)
        try:
            await response.write(b"retry: 1000\nevent: hello\ndata: {}\n\n")
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if item is _CLOSE:
                    break
                await response.write(f"event: change\ndata: {json.dumps(item)}\n\n".encode())
        except ConnectionResetError:
            logger.debug("Live stream client went away")
        finally:
            self._queues.discard(queue)
        return response
