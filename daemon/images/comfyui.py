"""A client for a ComfyUI server: queue a workflow, follow it, fetch its images.

The wire format is ComfyUI's own (server.py, main.py, execution.py, script_examples/
websockets_api_example.py): POST /prompt with {"prompt", "client_id"}; the /ws?clientId= socket
sends {"type", "data"} JSON messages for that client (binary frames are previews); "executing"
with node null marks the end, after the history entry is written; GET /history/{prompt_id} lists the
output images and GET /view serves them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from roundhouse.daemon.backends.base import BackendError, short_message
from roundhouse.daemon.images.workflows import Workflow, sampler_seed

CONNECT_TIMEOUT_S = 5.0
# ComfyUI greets every new socket with a "status" message once it is registered; waiting for it
# means no message about the prompt can be sent before the socket is there to receive it.
GREETING_TIMEOUT_S = 5.0
HISTORY_POLL_S = 0.25
# Preview frames can be whole unencoded images.
MAX_FRAME_BYTES = 64 * 1024 * 1024

ProgressCallback = Callable[[int, int], None]


class ComfyUIError(BackendError):
    """ComfyUI failed or refused. `status` 400: the workflow was rejected (the request is wrong);
    502: ComfyUI is unreachable or a node failed while running; 504: it did not finish in time.
    `node_id`/`node_type` name the node ComfyUI blamed, when it named one."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        kind: str = "comfyui_error",
        retryable: bool = False,
        node_id: str | None = None,
        node_type: str | None = None,
    ):
        super().__init__(message, status=status, kind=kind, retryable=retryable)
        self.node_id = node_id
        self.node_type = node_type


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    filename: str
    mime: str = "image/png"
    seed: int | None = None


class ComfyUIClient:
    def __init__(self, base_url: str, *, timeout_s: float = 600):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    # -- server state ------------------------------------------------------------------
    async def system_stats(self) -> dict[str, Any]:
        async with self._http() as http:
            return _json_object(await self._request(http, "GET", "/system_stats"))

    async def vram(self) -> tuple[int, int] | None:
        """(total, free) bytes of the first GPU ComfyUI runs on; None when it runs on the CPU."""
        for device in (await self.system_stats()).get("devices") or []:
            if isinstance(device, dict) and device.get("type") not in (None, "cpu"):
                return int(device.get("vram_total", 0)), int(device.get("vram_free", 0))
        return None

    async def checkpoints(self) -> list[str]:
        """The checkpoint files CheckpointLoaderSimple can load."""
        async with self._http() as http:
            info = _json_object(await self._request(http, "GET", "/object_info/CheckpointLoaderSimple"))
        spec = info.get("CheckpointLoaderSimple", {}).get("input", {}).get("required", {}).get("ckpt_name")
        return _combo_options(spec)

    async def free(self, unload_models: bool = True) -> None:
        """Ask ComfyUI to drop its caches and (by default) unload its models. ComfyUI acts on this
        between prompts, so memory comes back once the running prompt, if any, is done."""
        async with self._http() as http:
            await self._request(
                http, "POST", "/free", json={"unload_models": unload_models, "free_memory": True}
            )

    async def interrupt(self) -> None:
        """Stop the prompt ComfyUI is running now (whoever queued it)."""
        async with self._http() as http:
            await self._request(http, "POST", "/interrupt", json={})

    async def queue_remaining(self) -> int:
        """Prompts running or waiting in ComfyUI's queue."""
        async with self._http() as http:
            queue = _json_object(await self._request(http, "GET", "/queue"))
        return len(queue.get("queue_running") or []) + len(queue.get("queue_pending") or [])

    async def health(self) -> tuple[bool, str]:
        try:
            stats = await self.system_stats()
        except ComfyUIError as exc:
            return False, str(exc)
        version = stats.get("system", {}).get("comfyui_version") or "unknown version"
        devices = [d.get("name") for d in stats.get("devices") or [] if isinstance(d, dict) and d.get("name")]
        return True, f"ComfyUI {version} on {devices[0] if devices else 'an unknown device'}"

    # -- generation --------------------------------------------------------------------
    async def generate(
        self, workflow: Workflow, *, on_progress: ProgressCallback | None = None
    ) -> list[GeneratedImage]:
        """Run `workflow` (API format) and return the images its output nodes saved.
        `on_progress(value, max)` follows the sampler's steps."""
        client_id = uuid.uuid4().hex
        try:
            async with asyncio.timeout(self.timeout_s), self._http() as http:
                socket = await self._open_socket(client_id)
                try:
                    prompt_id = await self._queue(http, workflow, client_id)
                    if socket is not None:
                        await self._follow(socket, prompt_id, on_progress)
                finally:
                    if socket is not None:
                        await socket.close()
                entry = await self._finished_entry(http, prompt_id)
                return await self._images(http, entry, sampler_seed(workflow))
        except TimeoutError:
            raise ComfyUIError(
                f"ComfyUI did not finish the image within {self.timeout_s:g}s", status=504, kind="timeout"
            ) from None

    async def _queue(self, http: httpx.AsyncClient, workflow: Workflow, client_id: str) -> str:
        response = await self._request(
            http, "POST", "/prompt", json={"prompt": workflow, "client_id": client_id}, accept={400}
        )
        if response.status_code == 400:
            raise _rejected(response)
        prompt_id = _json_object(response).get("prompt_id")
        if not prompt_id:
            raise ComfyUIError("ComfyUI queued the workflow but returned no prompt_id")
        return str(prompt_id)

    async def _open_socket(self, client_id: str) -> ClientConnection | None:
        """The websocket ComfyUI reports progress on; None when something between us and ComfyUI
        refuses websockets (the history is polled instead)."""
        try:
            socket = await connect(
                self._ws_url(client_id), open_timeout=CONNECT_TIMEOUT_S, max_size=MAX_FRAME_BYTES
            )
        except InvalidHandshake:
            return None
        except (OSError, TimeoutError) as exc:
            raise _unreachable(self.base_url, exc) from exc
        try:
            async with asyncio.timeout(GREETING_TIMEOUT_S):
                await socket.recv()
        except (TimeoutError, ConnectionClosed):
            pass
        return socket

    async def _follow(
        self, socket: ClientConnection, prompt_id: str, on_progress: ProgressCallback | None
    ) -> None:
        """Read the socket until the prompt is done. Returns early if the socket closes first."""
        try:
            async for frame in socket:
                if isinstance(frame, bytes):
                    continue
                try:
                    message = json.loads(frame)
                except ValueError:
                    continue
                if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
                    continue
                kind = message.get("type")
                data = message["data"]
                if data.get("prompt_id", prompt_id) != prompt_id:
                    continue
                if kind == "progress" and on_progress is not None:
                    on_progress(int(data.get("value", 0)), int(data.get("max", 0)))
                elif kind in ("execution_error", "execution_interrupted"):
                    raise _failed(kind, data)
                elif kind == "executing" and data.get("node") is None:
                    return
        except ConnectionClosed:
            return

    async def _finished_entry(self, http: httpx.AsyncClient, prompt_id: str) -> dict[str, Any]:
        """The prompt's history entry, waiting for it if ComfyUI has not written it yet."""
        while True:
            history = _json_object(await self._request(http, "GET", f"/history/{prompt_id}"))
            entry = history.get(prompt_id)
            if isinstance(entry, dict):
                status = entry.get("status") or {}
                if status.get("status_str") == "error":
                    raise _failed_from_history(status)
                return entry
            await asyncio.sleep(HISTORY_POLL_S)

    async def _images(
        self, http: httpx.AsyncClient, entry: dict[str, Any], seed: int | None
    ) -> list[GeneratedImage]:
        listed = [
            image
            for output in (entry.get("outputs") or {}).values()
            if isinstance(output, dict)
            for image in output.get("images") or []
            if isinstance(image, dict) and image.get("filename")
        ]
        # Preview nodes leave "temp" images next to the saved ones; the saved ones are the result.
        saved = [image for image in listed if image.get("type", "output") == "output"] or listed
        images = []
        for image in saved:
            params = {
                "filename": image["filename"],
                "subfolder": image.get("subfolder", ""),
                "type": image.get("type", "output"),
            }
            response = await self._request(http, "GET", "/view", params=params)
            mime = response.headers.get("content-type", "image/png").split(";")[0].strip()
            images.append(GeneratedImage(response.content, image["filename"], mime or "image/png", seed))
        return images

    # -- transport ---------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(self.timeout_s, connect=CONNECT_TIMEOUT_S)
        )

    def _ws_url(self, client_id: str) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, f"{parts.path}/ws", f"clientId={client_id}", ""))

    async def _request(
        self, http: httpx.AsyncClient, method: str, path: str, *, accept: Container[int] = (), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = await http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _unreachable(self.base_url, exc) from exc
        except httpx.TimeoutException as exc:
            raise ComfyUIError(
                f"ComfyUI did not answer {method} {path} in time", status=504, kind="timeout", retryable=True
            ) from exc
        except httpx.HTTPError as exc:
            raise ComfyUIError(
                f"ComfyUI broke off {method} {path}: {exc}", kind="unreachable", retryable=True
            ) from exc
        if response.is_success or response.status_code in accept:
            return response
        detail = short_message(response.text) or response.reason_phrase
        raise ComfyUIError(
            f"ComfyUI answered {method} {path} with {response.status_code}: {detail}",
            retryable=response.status_code >= 500,
        )


def _unreachable(base_url: str, exc: BaseException) -> ComfyUIError:
    reason = str(exc) or type(exc).__name__
    return ComfyUIError(f"ComfyUI at {base_url} is unreachable: {reason}", kind="unreachable", retryable=True)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ComfyUIError(
            f"ComfyUI sent something other than JSON for {response.request.url.path}"
        ) from None
    if not isinstance(body, dict):
        raise ComfyUIError(f"ComfyUI sent an unexpected answer for {response.request.url.path}")
    return body


def _combo_options(spec: Any) -> list[str]:
    """The choices of a combo input: `[[choices], {...}]`, or the newer `["COMBO", {"options": [...]}]`."""
    if not isinstance(spec, list) or not spec:
        return []
    if isinstance(spec[0], list):
        return [str(name) for name in spec[0]]
    if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
        return [str(name) for name in spec[1].get("options") or []]
    return []


def _rejected(response: httpx.Response) -> ComfyUIError:
    """ComfyUI's 400 for a workflow that failed validation: {"error": {...}, "node_errors": {...}}."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    node_errors = body.get("node_errors") if isinstance(body, dict) else None
    headline = error.get("message") if isinstance(error, dict) else error
    problems = []
    first_node: tuple[str, str] | None = None
    if isinstance(node_errors, dict):
        for node_id, found in node_errors.items():
            class_type = found.get("class_type", "node")
            first_node = first_node or (str(node_id), class_type)
            for reason in found.get("errors") or []:
                details = f": {reason['details']}" if reason.get("details") else ""
                problems.append(f"{class_type} (node {node_id}): {reason.get('message', 'invalid')}{details}")
    if not problems and isinstance(error, dict) and error.get("details"):
        problems.append(str(error["details"]))
    message = f"ComfyUI rejected the workflow: {headline or 'invalid workflow'}"
    if problems:
        message += " - " + "; ".join(problems)
    return ComfyUIError(
        message,
        status=400,
        kind="invalid_workflow",
        node_id=first_node[0] if first_node else None,
        node_type=first_node[1] if first_node else None,
    )


def _failed(kind: str, data: dict[str, Any]) -> ComfyUIError:
    """An execution_error or execution_interrupted message as an error."""
    node_id = data.get("node_id")
    node_type = data.get("node_type")
    where = f"{node_type} (node {node_id})" if node_type else "a node"
    if kind == "execution_interrupted":
        return ComfyUIError(
            f"ComfyUI's run was interrupted at {where}",
            kind="interrupted",
            node_id=node_id,
            node_type=node_type,
        )
    reason = short_message(str(data.get("exception_message", ""))) or data.get("exception_type") or "failed"
    return ComfyUIError(
        f"ComfyUI failed at {where}: {reason}", kind="execution_error", node_id=node_id, node_type=node_type
    )


def _failed_from_history(status: dict[str, Any]) -> ComfyUIError:
    for message in status.get("messages") or []:
        if isinstance(message, list) and len(message) == 2 and isinstance(message[1], dict):
            if message[0] in ("execution_error", "execution_interrupted"):
                return _failed(message[0], message[1])
    return ComfyUIError("ComfyUI reports the run failed", kind="execution_error")
