"""The tray's only way to the daemon: an async client of the control API (/control/v1/...)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8719"
PULL = "/control/v1/models/pull"
RESIDENCY_SETTINGS = "/control/v1/residency/settings"
SHUTDOWN = "/control/v1/shutdown"


class ControlError(Exception):
    """The daemon answered with an error; `message` is fit to show to the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DaemonUnreachable(ControlError):
    def __init__(self, message: str) -> None:
        super().__init__(0, message)


@dataclass(frozen=True)
class Capabilities:
    """Which control endpoints the running daemon has, read from its /openapi.json."""

    paths: dict[str, frozenset[str]] = field(default_factory=dict)

    def has(self, path: str, method: str = "get") -> bool:
        return method.lower() in self.paths.get(path, frozenset())

    def has_prefix(self, prefix: str) -> bool:
        return any(p == prefix or p.startswith(prefix + "/") for p in self.paths)


def error_message(response: httpx.Response) -> str:
    """The human part of an error body in any of the daemon's dialects."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            return str(detail[0].get("msg", detail))
    return f"HTTP {response.status_code}"


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Events from a server-sent-events body: the JSON `data` of each event."""
    events = []
    for block in text.split("\n\n"):
        data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")]
        if data:
            try:
                events.append(json.loads("\n".join(data)))
            except ValueError:
                continue
    return events


class TokenFileAuth(httpx.Auth):
    """Sends the admin token the daemon keeps in `path`, read afresh for each request (the daemon
    may write it after the tray starts); without the file, no token (a loopback-only daemon
    trusts callers on this machine)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        try:
            token = self.path.read_text().strip()
        except OSError:
            token = ""
        if token and "authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


class ControlClient:
    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        token_file: Path | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            auth=TokenFileAuth(token_file) if token_file and not token else None,
            timeout=timeout,
            trust_env=False,
        )

    def set_base_url(self, base_url: str) -> None:
        """Talk to another daemon address from the next request on."""
        self.base_url = base_url.rstrip("/")
        self._http.base_url = self.base_url

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(
        self, method: str, path: str, *, timeout_s: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        if timeout_s is not None:
            kwargs["timeout"] = timeout_s
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise DaemonUnreachable(f"the daemon did not answer {method} {path} in time") from None
        except httpx.TransportError as exc:
            raise DaemonUnreachable(
                f"cannot reach the daemon at {self.base_url} ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise ControlError(response.status_code, error_message(response))
        return response

    async def get_bytes(self, path: str, *, timeout_s: float = 30.0) -> bytes:
        """A file the daemon serves (a PNG, an export zip), as it is."""
        return (await self._send("GET", path, timeout_s=timeout_s)).content

    async def request(self, method: str, path: str, *, timeout_s: float | None = None, **kwargs: Any) -> Any:
        response = await self._send(method, path, timeout_s=timeout_s, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    async def post(self, path: str, body: Any = None, *, timeout_s: float | None = None) -> Any:
        return await self.request("POST", path, json=body, timeout_s=timeout_s)

    async def put(self, path: str, body: Any = None) -> Any:
        return await self.request("PUT", path, json=body)

    async def patch(self, path: str, body: Any = None) -> Any:
        return await self.request("PATCH", path, json=body)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    # -- the daemon itself ------------------------------------------------------------------------

    async def healthy(self) -> bool:
        try:
            response = await self._http.get("/health", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def shutdown(self) -> None:
        """Ask the daemon to stop (answered 202 before it winds down)."""
        await self.post(SHUTDOWN)

    async def capabilities(self) -> Capabilities:
        spec = await self.get("/openapi.json")
        paths = {
            path: frozenset(m.lower() for m in methods)
            for path, methods in (spec.get("paths") or {}).items()
            if isinstance(methods, dict)
        }
        return Capabilities(paths)

    async def status(self) -> dict[str, Any]:
        return await self.get("/control/v1/status")  # type: ignore[no-any-return]

    async def models(self) -> list[dict[str, Any]]:
        return (await self.get("/control/v1/models"))["models"]  # type: ignore[no-any-return]

    async def pull_model(self, model: str, backend: str = "ollama") -> AsyncIterator[dict[str, Any]]:
        """Progress of a pull onto an Ollama host, line by line ({status, total, completed});
        closing the iterator closes the stream, which cancels the pull."""
        try:
            async with self._http.stream(
                "POST",
                PULL,
                json={"model": model, "backend": backend},
                timeout=httpx.Timeout(self._http.timeout.connect, read=None),
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise ControlError(response.status_code, error_message(response))
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    part = json.loads(line)
                    error = part.get("error")
                    if error:
                        message = error.get("message") if isinstance(error, dict) else str(error)
                        raise ControlError(502, str(message))
                    yield part
        except httpx.TransportError as exc:
            raise DaemonUnreachable(f"the pull of {model} was interrupted ({type(exc).__name__})") from None

    async def recent_requests(self, limit: int = 50) -> list[dict[str, Any]]:
        return (await self.get("/control/v1/requests", limit=limit))["requests"]  # type: ignore[no-any-return]

    async def events_since(self, seq: int) -> list[dict[str, Any]]:
        """The daemon's recent events after `seq`, without keeping a stream open."""
        try:
            response = await self._http.get("/control/v1/events", params={"since": seq, "once": "true"})
        except httpx.HTTPError as exc:
            raise DaemonUnreachable(f"cannot read events ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise ControlError(response.status_code, error_message(response))
        return parse_sse(response.text)

    # -- app tokens and provider keys -------------------------------------------------------------

    async def tokens(self) -> list[dict[str, Any]]:
        return (await self.get("/control/v1/tokens"))["tokens"]  # type: ignore[no-any-return]

    async def create_token(self, name: str) -> str:
        return (await self.post("/control/v1/tokens", {"name": name}))["token"]  # type: ignore[no-any-return]

    async def revoke_token(self, name: str) -> None:
        await self.delete(f"/control/v1/tokens/{name}")

    async def keys(self) -> dict[str, Any]:
        return await self.get("/control/v1/keys")  # type: ignore[no-any-return]

    async def set_key(self, provider: str, key: str) -> dict[str, Any]:
        return await self.put(f"/control/v1/keys/{provider}", {"key": key})  # type: ignore[no-any-return]

    async def delete_key(self, provider: str) -> None:
        await self.delete(f"/control/v1/keys/{provider}")

    async def test_key(self, provider: str) -> dict[str, Any]:
        return await self.post(f"/control/v1/keys/{provider}/test", timeout_s=60.0)  # type: ignore[no-any-return]

    # -- GPU residency ----------------------------------------------------------------------------

    async def residency(self) -> dict[str, Any]:
        return await self.get("/control/v1/residency")  # type: ignore[no-any-return]

    async def gpus(self) -> dict[str, Any]:
        return await self.get("/control/v1/residency/gpus")  # type: ignore[no-any-return]

    async def residency_action(
        self, action: str, model: str, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """`action` is one of pin, unpin, unload, preload."""
        return await self.post(f"/control/v1/residency/{action}", {"model": model}, timeout_s=timeout_s)  # type: ignore[no-any-return]

    async def set_residency_settings(self, **changes: Any) -> dict[str, Any]:
        """`headroom_gb` and/or `allow_cpu_spill`, applied by the running daemon at once."""
        return await self.patch(RESIDENCY_SETTINGS, changes)  # type: ignore[no-any-return]
