"""uvicorn's httptools protocol, sending a response's head in the same write as its body.

uvicorn writes the status line and headers as soon as the app sends `http.response.start`,
then the body in a second write. Each write is a send() system call, and on loopback a send
costs tens of microseconds (the kernel delivers the segment and wakes the reader inside it),
which is a large share of what a proxy hop adds. Holding the head until the body's first
bytes, or at the latest until the end of the event-loop turn, makes most responses one send.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_STATUS_LINE = b"HTTP/1.1 "
_END_OF_HEAD = b"\r\n\r\n"


class _HeadWithBody:
    """A transport that holds a response head back until the next write or the loop's turn
    ends; everything else goes straight through, in order."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is not None:
            data, self._held = self._held + bytes(data), None
            self._transport.write(data)
        elif isinstance(data, bytes) and data.startswith(_STATUS_LINE) and data.endswith(_END_OF_HEAD):
            self._held = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        if self._held is not None:
            data, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HeadWithBodyProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        super().connection_made(_HeadWithBody(transport, self.loop))  # type: ignore[arg-type]
