"""Run an ASGI app on a real loopback socket in a background thread (for stand-in servers)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Self

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer:
    """`with ThreadedServer(app) as server: server.url` — a real HTTP server on 127.0.0.1."""

    def __init__(self, app: Any, **options: Any) -> None:
        # Bind first and hand uvicorn the socket: no window for another process to take the port.
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that name it, and
        # without it every keep-alive request waits out Nagle's delay (~40 ms).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            **options,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"standin-{self.port}")

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Standin:
    """What every stand-in server shares: build its app once, serve it on loopback, record
    under a lock. Subclasses (dataclasses) implement `_build()`."""

    server: ThreadedServer | None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.app = self._build()
        self.server = None

    def _build(self) -> Any:
        raise NotImplementedError

    def start(self) -> Self:
        self.server = ThreadedServer(self.app).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()

    @property
    def root_url(self) -> str:
        assert self.server is not None
        return self.server.url

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
