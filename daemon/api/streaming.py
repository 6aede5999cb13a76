"""A streamed response that costs one watcher task, and stops its producer when the client goes.

Starlette's StreamingResponse runs the stream and a disconnect listener in an anyio task
group, which is most of a streamed request's overhead here. This one streams in the request's
own task; a small watcher cancels that task when the client disconnects, which closes the
producer (and through it the backend's stream) at once. The watcher starts once the first
bytes are out, so it costs the time to first byte nothing; every stream here has its first
chunk in hand before the response starts (see `first_and_rest`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from roundhouse.daemon.api.common import with_headers


class ByteStream(StreamingResponse):
    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        media_type: str,
        headers: Mapping[str, str] | None = None,
        last: bytes = b"",
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        # Sent with the end of the body, in one write with it (SSE's `data: [DONE]`).
        self.last = last

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        media_type = self.media_type or ""
        if media_type.startswith("text/") and "charset=" not in media_type.lower():
            media_type += "; charset=" + self.charset  # as Starlette has it
        raw = with_headers([(b"content-type", media_type.encode("latin-1"))], headers)
        if raw is None:
            super().init_headers(headers)
        else:
            self.raw_headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        streaming = True
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            # Only while the stream runs: the request's task is then waiting inside the try below.
            if streaming:
                task.cancel()

        watcher: asyncio.Task[None] | None = None
        try:
            start = {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            await send(start)
            async for chunk in self.body_iterator:
                body = chunk if isinstance(chunk, bytes | memoryview) else chunk.encode(self.charset)
                await send({"type": "http.response.body", "body": body, "more_body": True})
                if watcher is None:  # after the first bytes: they are what the client waits for
                    watcher = asyncio.get_running_loop().create_task(watch())
            await send({"type": "http.response.body", "body": self.last, "more_body": False})
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()
        except OSError:
            gone = True  # the server reports a closed connection on send
        finally:
            streaming = False
            if watcher is not None:
                watcher.cancel()
            if gone:
                aclose = getattr(self.body_iterator, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()
