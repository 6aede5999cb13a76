"""A stand-in for an Open WebUI older than 0.10 on a real socket: its memory API stores
`content` only and answers without `type` or `path` (the real old servers ignored unknown
fields; `strict=True` makes it refuse them with 422 instead, as a validating proxy would)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from tests.standins.runner import ThreadedServer


@dataclass
class OldOpenWebUI:
    version: str | None = "0.6.5"  # None: no /api/version endpoint
    strict: bool = False
    keys: dict[str, str] = field(
        default_factory=lambda: {"sk-old-ada-000000": "ada", "sk-old-bob-000000": "bob"}
    )
    memories: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server: ThreadedServer | None = None
        self.app = self._build()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def __enter__(self) -> OldOpenWebUI:
        self.server = ThreadedServer(self.app).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server:
            self.server.stop()

    def of(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.memories.values() if m["user_id"] == user]

    def _user(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        user = self.keys.get(header.removeprefix("Bearer ").strip())
        if user is None:
            raise HTTPException(401, "Not authenticated")
        return user

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/version")
        async def version() -> Any:
            if self.version is None:
                return JSONResponse({"detail": "Not Found"}, status_code=404)
            return {"version": self.version}

        @app.get("/api/v1/memories/")
        async def list_memories(request: Request) -> list[dict[str, Any]]:
            return self.of(self._user(request))

        @app.post("/api/v1/memories/add")
        async def add(request: Request) -> Any:
            user = self._user(request)
            body = await request.json()
            self.bodies.append(body)
            if self.strict and set(body) - {"content"}:
                return JSONResponse(
                    {"detail": [{"type": "extra_forbidden", "loc": ["body", "type"]}]}, status_code=422
                )
            now = int(time.time())
            item = {"id": str(uuid.uuid4()), "user_id": user, "content": body["content"], "updated_at": now,
                    "created_at": now}  # fmt: skip
            with self._lock:
                self.memories[item["id"]] = item
            return item

        @app.post("/api/v1/memories/{memory_id}/update")
        async def update(memory_id: str, request: Request) -> Any:
            user = self._user(request)
            body = await request.json()
            self.bodies.append(body)
            with self._lock:
                item = self.memories.get(memory_id)
                if item is None or item["user_id"] != user:
                    return JSONResponse({"detail": "Not found"}, status_code=404)
                item["content"] = body["content"]
                item["updated_at"] = int(time.time())
                return item

        @app.delete("/api/v1/memories/{memory_id}")
        async def delete(memory_id: str, request: Request) -> bool:
            user = self._user(request)
            with self._lock:
                item = self.memories.get(memory_id)
                if item is None or item["user_id"] != user:
                    return False
                del self.memories[memory_id]
                return True

        return app
