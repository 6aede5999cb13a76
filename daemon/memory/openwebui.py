"""A client for one Open WebUI user's memory API (`/api/v1/memories`).

Every call acts on the calling user's own memories, so each user has their own API key.
Servers since 0.10 accept `type` and `path`; older ones store `content` only and answer
without those fields, which is how the client tells them apart when the version is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

LEGACY_BEFORE = (0, 10)


class OpenWebUIError(Exception):
    """Open WebUI answered with an error or could not be reached. Never carries the API key."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class RemoteMemory:
    id: str
    content: str
    type: str | None
    path: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RemoteMemory:
        return cls(
            id=str(data["id"]),
            content=str(data.get("content", "")),
            type=data.get("type"),
            path=data.get("path"),
        )


def parse_version(text: str) -> tuple[int, int] | None:
    match = re.match(r"v?(\d+)\.(\d+)", text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


class OpenWebUIClient:
    def __init__(self, url: str, api_key: str, *, timeout_s: float = 20.0, transport: Any = None) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
        )
        # None until known: True for servers older than 0.10 (content only).
        self.legacy: bool | None = None

    async def close(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> OpenWebUIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        try:
            response = await self._client.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise OpenWebUIError(f"cannot reach Open WebUI at {self.url}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise OpenWebUIError(_describe(response), status=response.status_code)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise OpenWebUIError(
                f"Open WebUI at {self.url} answered {path} with something other than JSON"
            ) from None

    async def detect(self) -> bool:
        """Whether the server is older than 0.10; asks `/api/version` once."""
        if self.legacy is not None:
            return self.legacy
        try:
            data = await self._call("GET", "/api/version")
        except OpenWebUIError:
            data = None
        version = parse_version(str(data.get("version", ""))) if isinstance(data, dict) else None
        if version is not None:
            self.legacy = version < LEGACY_BEFORE
        return bool(self.legacy)

    async def list(self) -> list[RemoteMemory]:
        data = await self._call("GET", "/api/v1/memories/")
        if not isinstance(data, list):
            raise OpenWebUIError("Open WebUI returned an unexpected memory list")
        return [RemoteMemory.from_json(item) for item in data]

    async def add(self, content: str, *, type_: str, path: str) -> RemoteMemory:
        if not await self.detect():
            try:
                data = await self._call(
                    "POST", "/api/v1/memories/add", {"content": content, "type": type_, "path": path}
                )
            except OpenWebUIError as exc:
                if exc.status not in (400, 422):
                    raise
                self.legacy = True  # a server that refuses the fields it does not know
            else:
                if isinstance(data, dict) and "path" not in data and "type" not in data:
                    self.legacy = True  # an older server stored the content and dropped the rest
                elif self.legacy is None:
                    self.legacy = False
                return RemoteMemory.from_json(data)
        data = await self._call("POST", "/api/v1/memories/add", {"content": content})
        return RemoteMemory.from_json(data)

    async def update(self, memory_id: str, content: str, *, type_: str, path: str) -> RemoteMemory | None:
        body: dict[str, Any] = {"content": content}
        if not await self.detect():
            body.update(type=type_, path=path)
        try:
            data = await self._call("POST", f"/api/v1/memories/{memory_id}/update", body)
        except OpenWebUIError as exc:
            if exc.status == 404:
                return None
            raise
        return RemoteMemory.from_json(data) if isinstance(data, dict) else None

    async def delete(self, memory_id: str) -> bool:
        try:
            return bool(await self._call("DELETE", f"/api/v1/memories/{memory_id}"))
        except OpenWebUIError as exc:
            if exc.status == 404:
                return False
            raise


def _describe(response: httpx.Response) -> str:
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("detail") or body.get("error") or "")[:200]
    except ValueError:
        pass
    hint = (
        " (check that memories are enabled and the user's API key is valid)"
        if response.status_code in (401, 403)
        else ""
    )
    where = response.request.url.path
    return f"Open WebUI answered {response.status_code} on {where}{': ' + detail if detail else ''}{hint}"
