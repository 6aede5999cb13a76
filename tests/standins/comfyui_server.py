"""A stand-in ComfyUI server: ComfyUI's HTTP and websocket API on a real socket, with no model.

It speaks the wire format of ComfyUI's server.py / main.py / execution.py: POST /prompt validates
the workflow against the node classes it knows (the default text-to-image graph) and answers
ComfyUI's 400 shape when it fails; queued prompts run one at a time and report on the client's
/ws?clientId= socket in ComfyUI's order (status, execution_start, execution_cached, executing per
node, progress per sampler step with a binary preview frame, executed with the images,
execution_success, status, executing null); history, /view, /object_info, /system_stats (a fake
CUDA device whose free VRAM drops while a checkpoint is loaded), /free, /queue, /prompt and
/interrupt. SaveImage writes a deterministic PNG of the latent's size whose colours come from the
seed and the positive prompt. Every workflow received is recorded.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import struct
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

from tests.standins.runner import Standin

GiB = 1024**3
MiB = 1024**2
MAX_RESOLUTION = 16384
SAMPLERS = ["euler", "euler_ancestral", "heun", "dpm_2", "dpmpp_2m", "dpmpp_2m_sde", "ddim", "uni_pc"]
SCHEDULERS = ["normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform", "beta"]
# ComfyUI's binary frame type for an encoded preview, then its image format (2 = PNG).
PREVIEW_IMAGE = 1
PREVIEW_PNG = 2


def _int(default: int, low: int, high: int) -> list[Any]:
    return ["INT", {"default": default, "min": low, "max": high}]


def _float(default: float, low: float, high: float) -> list[Any]:
    return ["FLOAT", {"default": default, "min": low, "max": high}]


def png(width: int, height: int, pixel_rows: list[bytes], text: dict[str, str] | None = None) -> bytes:
    """An 8-bit RGB PNG; `pixel_rows` repeat down the image (each is width*3 bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    filtered = [b"\x00" + pixel_rows[y % len(pixel_rows)] for y in range(height)]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = [chunk(b"IHDR", header)]
    for key, value in (text or {}).items():
        chunks.append(chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1", "replace")))
    chunks.append(chunk(b"IDAT", zlib.compress(b"".join(filtered), 1)))
    chunks.append(chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


@dataclass
class ComfyUIStandin(Standin):
    checkpoints: list[str] = field(default_factory=lambda: ["sd_xl_base_1.0.safetensors"])
    vram_total: int = 24 * GiB
    # What the CUDA context and ComfyUI itself hold with nothing loaded, and what a checkpoint adds.
    vram_baseline: int = 400 * MiB
    checkpoint_vram: int = 6 * GiB
    step_delay_s: float = 0.0
    version: str = "0.3.66"
    # Workflows as POST /prompt received them, valid or not.
    prompts: list[dict[str, Any]] = field(default_factory=list)
    loaded_checkpoint: str | None = None
    # Close each client's socket right after its prompt is queued (a flaky proxy, a restart).
    drop_socket_after_queue: bool = False

    def __post_init__(self) -> None:
        self.history: dict[str, dict[str, Any]] = {}
        self.images: dict[tuple[str, str, str], bytes] = {}
        self.sockets: dict[str, WebSocket] = {}
        self.running: list[list[Any]] = []
        self.pending: list[list[Any]] = []
        self._failure: tuple[str, str] | None = None
        self._interrupted = False
        self._free_pending = False
        self._number = 0
        self._image_counter = 0
        self._run_lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        super().__post_init__()

    @property
    def url(self) -> str:
        return self.root_url

    def fail_next_prompt(self, message: str, exception_type: str = "torch.OutOfMemoryError") -> None:
        """The next prompt's KSampler raises, as a real one does when the GPU runs out of memory."""
        with self._lock:
            self._failure = (message, exception_type)

    def vram_free(self) -> int:
        with self._lock:
            held = self.checkpoint_vram if self.loaded_checkpoint else 0
        return self.vram_total - self.vram_baseline - held

    # -- node classes ------------------------------------------------------------------
    def _node_classes(self) -> dict[str, dict[str, Any]]:
        """Each known class's required inputs, output types and whether it is an output node."""
        return {
            "CheckpointLoaderSimple": {
                "input": {"ckpt_name": [list(self.checkpoints), {"tooltip": "The checkpoint to load."}]},
                "output": ["MODEL", "CLIP", "VAE"],
                "category": "loaders",
            },
            "CLIPTextEncode": {
                "input": {"text": ["STRING", {"multiline": True, "dynamicPrompts": True}], "clip": ["CLIP"]},
                "output": ["CONDITIONING"],
                "category": "conditioning",
            },
            "EmptyLatentImage": {
                "input": {
                    "width": _int(512, 16, MAX_RESOLUTION),
                    "height": _int(512, 16, MAX_RESOLUTION),
                    "batch_size": _int(1, 1, 4096),
                },
                "output": ["LATENT"],
                "category": "latent",
            },
            "KSampler": {
                "input": {
                    "model": ["MODEL"],
                    "seed": _int(0, 0, 0xFFFFFFFFFFFFFFFF),
                    "steps": _int(20, 1, 10000),
                    "cfg": _float(8.0, 0.0, 100.0),
                    "sampler_name": [list(SAMPLERS), {}],
                    "scheduler": [list(SCHEDULERS), {}],
                    "positive": ["CONDITIONING"],
                    "negative": ["CONDITIONING"],
                    "latent_image": ["LATENT"],
                    "denoise": _float(1.0, 0.0, 1.0),
                },
                "output": ["LATENT"],
                "category": "sampling",
            },
            "VAEDecode": {
                "input": {"samples": ["LATENT"], "vae": ["VAE"]},
                "output": ["IMAGE"],
                "category": "latent",
            },
            "SaveImage": {
                "input": {"images": ["IMAGE"], "filename_prefix": ["STRING", {"default": "ComfyUI"}]},
                "output": [],
                "output_node": True,
                "category": "image",
            },
        }

    def _object_info(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "input": {"required": spec["input"]},
            "input_order": {"required": list(spec["input"])},
            "output": spec["output"],
            "output_is_list": [False] * len(spec["output"]),
            "output_name": spec["output"],
            "name": name,
            "display_name": name,
            "description": "",
            "python_module": "nodes",
            "category": spec["category"],
            "output_node": spec.get("output_node", False),
        }

    # -- validation (execution.validate_prompt's checks and error shapes) ---------------
    def _validate(self, prompt: Any) -> tuple[dict[str, Any] | None, dict[str, Any], list[str]]:
        """(error, node_errors, output node ids); error is None when the prompt may run."""
        classes = self._node_classes()
        if not isinstance(prompt, dict):
            return _error("invalid_prompt", "Prompt is not a dict of nodes", ""), {}, []
        outputs = []
        for node_id, node in prompt.items():
            if not isinstance(node, dict) or "class_type" not in node:
                message = "Cannot execute because a node is missing the class_type property."
                return _error("invalid_prompt", message, f"Node ID '#{node_id}'"), {}, []
            if node["class_type"] not in classes:
                message = f"Cannot execute because node {node['class_type']} does not exist."
                return _error("invalid_prompt", message, f"Node ID '#{node_id}'"), {}, []
            if classes[node["class_type"]].get("output_node"):
                outputs.append(node_id)
        if not outputs:
            return _error("prompt_no_outputs", "Prompt has no outputs", ""), {}, []

        node_errors: dict[str, dict[str, Any]] = {}
        for output in outputs:
            for node_id in _upstream(prompt, output):
                reasons = self._node_problems(prompt, node_id, classes)
                if reasons:
                    entry = node_errors.setdefault(
                        node_id,
                        {
                            "errors": reasons,
                            "dependent_outputs": [],
                            "class_type": prompt[node_id]["class_type"],
                        },
                    )
                    entry["dependent_outputs"].append(output)
        if node_errors:
            details = "\n".join(
                f"{reason['message']}: {reason['details']}"
                for entry in node_errors.values()
                for reason in entry["errors"]
            )
            error = _error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details)
            return error, node_errors, outputs
        return None, {}, outputs

    def _node_problems(
        self, prompt: dict[str, Any], node_id: str, classes: dict[str, dict[str, Any]]
    ) -> list[dict[str, Any]]:
        inputs = prompt[node_id].get("inputs") or {}
        problems = []
        for name, config in classes[prompt[node_id]["class_type"]]["input"].items():
            if name not in inputs:
                problems.append(_reason("required_input_missing", "Required input is missing", name, name))
                continue
            value = inputs[name]
            kind = config[0]
            limits = config[1] if len(config) > 1 else {}
            if isinstance(value, list):
                problems.extend(_link_problems(prompt, name, value, kind, classes))
            elif isinstance(kind, list):
                if value not in kind:
                    details = f"{name}: '{value}' not in {kind}"
                    problems.append(_reason("value_not_in_list", "Value not in list", details, name, value))
            elif kind in ("INT", "FLOAT"):
                try:
                    number = int(value) if kind == "INT" else float(value)
                except (TypeError, ValueError) as exc:
                    message = f"Failed to convert an input value to a {kind} value"
                    problems.append(
                        _reason("invalid_input_type", message, f"{name}, {value}, {exc}", name, value)
                    )
                    continue
                if number < limits["min"]:
                    message = f"Value {number} smaller than min of {limits['min']}"
                    problems.append(_reason("value_smaller_than_min", message, name, name, value))
                elif number > limits["max"]:
                    message = f"Value {number} bigger than max of {limits['max']}"
                    problems.append(_reason("value_bigger_than_max", message, name, name, value))
        return problems

    # -- running -----------------------------------------------------------------------
    async def _send(self, client_id: str | None, kind: str, data: dict[str, Any]) -> None:
        sockets = [self.sockets.get(client_id)] if client_id else list(self.sockets.values())
        for socket in sockets:
            if socket is not None:
                try:
                    await socket.send_text(json.dumps({"type": kind, "data": data}))
                except (RuntimeError, OSError, WebSocketDisconnect):
                    pass

    async def _send_preview(self, client_id: str) -> None:
        socket = self.sockets.get(client_id)
        if socket is not None:
            frame = struct.pack(">II", PREVIEW_IMAGE, PREVIEW_PNG) + png(8, 8, [b"\x80" * 24])
            try:
                await socket.send_bytes(frame)
            except (RuntimeError, OSError, WebSocketDisconnect):
                pass

    def _queue_info(self) -> dict[str, Any]:
        return {"exec_info": {"queue_remaining": len(self.running) + len(self.pending)}}

    async def _run(self, item: list[Any]) -> None:
        assert self._run_lock is not None
        async with self._run_lock:
            with self._lock:
                self.pending.remove(item)
                self.running.append(item)
                self._interrupted = False
            try:
                await self._execute(item)
            finally:
                with self._lock:
                    self.running.remove(item)
                    if self._free_pending:
                        self.loaded_checkpoint = None
                        self._free_pending = False
                _, prompt_id, _, extra, _ = item
                await self._send(None, "status", {"status": self._queue_info()})
                await self._send(extra.get("client_id"), "executing", {"node": None, "prompt_id": prompt_id})

    async def _execute(self, item: list[Any]) -> None:
        _, prompt_id, prompt, extra, outputs = item
        client = extra.get("client_id")
        messages: list[list[Any]] = []

        async def note(kind: str, data: dict[str, Any]) -> None:
            data = {**data, "timestamp": int(time.time() * 1000)}
            messages.append([kind, data])
            await self._send(client, kind, data)

        await note("execution_start", {"prompt_id": prompt_id})
        order = [node_id for output in outputs for node_id in _upstream(prompt, output)]
        order = list(dict.fromkeys(order))
        with self._lock:
            cached = [
                node_id
                for node_id in order
                if prompt[node_id]["class_type"] == "CheckpointLoaderSimple"
                and prompt[node_id]["inputs"]["ckpt_name"] == self.loaded_checkpoint
            ]
        await note("execution_cached", {"nodes": cached, "prompt_id": prompt_id})

        node_outputs: dict[str, dict[str, Any]] = {}
        executed: list[str] = list(cached)
        for node_id in order:
            if node_id in cached:
                continue
            class_type = prompt[node_id]["class_type"]
            await self._send(
                client, "executing", {"node": node_id, "display_node": node_id, "prompt_id": prompt_id}
            )
            failure = await self._run_node(prompt, node_id, prompt_id, client, node_outputs)
            if failure is not None:
                kind, details = failure
                await note(
                    kind,
                    {
                        "prompt_id": prompt_id,
                        "node_id": node_id,
                        "node_type": class_type,
                        "executed": executed,
                    }
                    | details,
                )
                self._record(item, {}, "error", messages)
                return
            executed.append(node_id)
            if node_id in node_outputs:
                ui = node_outputs[node_id]
                await self._send(
                    client,
                    "executed",
                    {"node": node_id, "display_node": node_id, "output": ui, "prompt_id": prompt_id},
                )
        await note("execution_success", {"prompt_id": prompt_id})
        self._record(item, node_outputs, "success", messages)

    async def _run_node(
        self,
        prompt: dict[str, Any],
        node_id: str,
        prompt_id: str,
        client: str | None,
        node_outputs: dict[str, dict[str, Any]],
    ) -> tuple[str, dict[str, Any]] | None:
        """Pretend to run one node; (message type, details) when it fails or is interrupted."""
        node = prompt[node_id]
        inputs = node["inputs"]
        if node["class_type"] == "CheckpointLoaderSimple":
            with self._lock:
                self.loaded_checkpoint = inputs["ckpt_name"]
        elif node["class_type"] == "KSampler":
            with self._lock:
                failure, self._failure = self._failure, None
            if failure is not None:
                message, exception_type = failure
                return "execution_error", {
                    "exception_message": message,
                    "exception_type": exception_type,
                    "traceback": [
                        f'  File "comfy/samplers.py", line 1, in sample\n{exception_type}: {message}\n'
                    ],
                    "current_inputs": {},
                    "current_outputs": {},
                }
            steps = int(inputs["steps"])
            for step in range(1, steps + 1):
                with self._lock:
                    interrupted = self._interrupted
                if interrupted:
                    return "execution_interrupted", {}
                await asyncio.sleep(self.step_delay_s)
                await self._send(
                    client, "progress", {"value": step, "max": steps, "prompt_id": prompt_id, "node": node_id}
                )
                if step == 1 and client:
                    await self._send_preview(client)
        elif node["class_type"] == "SaveImage":
            node_outputs[node_id] = {"images": self._save_images(prompt, node_id)}
        return None

    def _save_images(self, prompt: dict[str, Any], save_id: str) -> list[dict[str, str]]:
        decode = prompt[str(prompt[save_id]["inputs"]["images"][0])]
        sampler = prompt[str(decode["inputs"]["samples"][0])]["inputs"]
        latent = prompt[str(sampler["latent_image"][0])]["inputs"]
        positive = prompt[str(sampler["positive"][0])]["inputs"]["text"]
        width, height = int(latent["width"]) // 8 * 8, int(latent["height"]) // 8 * 8
        prefix = str(prompt[save_id]["inputs"]["filename_prefix"])
        saved = []
        for index in range(int(latent.get("batch_size", 1))):
            digest = hashlib.sha256(f"{sampler['seed'] + index}|{positive}".encode()).digest()
            # Two colour bands of 8 rows each: cheap at any size, and different for any seed or prompt.
            rows = [digest[0:3] * width] * 8 + [digest[3:6] * width] * 8
            data = png(width, height, rows, {"prompt": json.dumps(prompt)})
            with self._lock:
                self._image_counter += 1
                filename = f"{prefix}_{self._image_counter:05}_.png"
                self.images[(filename, "", "output")] = data
            saved.append({"filename": filename, "subfolder": "", "type": "output"})
        return saved

    def _record(
        self, item: list[Any], outputs: dict[str, Any], status: str, messages: list[list[Any]]
    ) -> None:
        with self._lock:
            self.history[item[1]] = {
                "prompt": item,
                "outputs": outputs,
                "status": {"status_str": status, "completed": status == "success", "messages": messages},
                "meta": {node_id: {"node_id": node_id, "display_node": node_id} for node_id in outputs},
            }

    # -- app ---------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            sid = websocket.query_params.get("clientId") or uuid.uuid4().hex
            await websocket.accept()
            self.sockets[sid] = websocket
            try:
                await self._send(sid, "status", {"status": self._queue_info(), "sid": sid})
                while True:
                    await websocket.receive_text()
            except WebSocketDisconnect:
                pass
            finally:
                if self.sockets.get(sid) is websocket:
                    del self.sockets[sid]

        @app.post("/prompt")
        async def post_prompt(request: Request) -> Response:
            body = await request.json()
            if "prompt" not in body:
                error = _error("no_prompt", "No prompt provided", "No prompt provided")
                return JSONResponse({"error": error, "node_errors": {}}, status_code=400)
            prompt = copy.deepcopy(body["prompt"])
            with self._lock:
                self.prompts.append(copy.deepcopy(prompt))
                number = self._number
                self._number += 1
            error, node_errors, outputs = self._validate(prompt)
            if error is not None:
                return JSONResponse({"error": error, "node_errors": node_errors}, status_code=400)
            prompt_id = str(uuid.uuid4())
            extra = dict(body.get("extra_data") or {})
            if "client_id" in body:
                extra["client_id"] = body["client_id"]
            item = [number, prompt_id, prompt, extra, outputs]
            with self._lock:
                self.pending.append(item)
            await self._send(None, "status", {"status": self._queue_info()})
            if self._run_lock is None:
                self._run_lock = asyncio.Lock()
            task = asyncio.create_task(self._run(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if self.drop_socket_after_queue and extra.get("client_id") in self.sockets:
                await self.sockets.pop(extra["client_id"]).close(code=1001)
            return JSONResponse({"prompt_id": prompt_id, "number": number, "node_errors": {}})

        @app.get("/prompt")
        async def get_prompt() -> dict[str, Any]:
            return self._queue_info()

        @app.get("/history/{prompt_id}")
        async def history(prompt_id: str) -> dict[str, Any]:
            with self._lock:
                entry = self.history.get(prompt_id)
                return {prompt_id: copy.deepcopy(entry)} if entry is not None else {}

        @app.get("/view")
        async def view(filename: str, subfolder: str = "", type: str = "output") -> Response:
            with self._lock:
                data = self.images.get((filename, subfolder, type))
            if data is None:
                return Response(status_code=404)
            return Response(
                data, media_type="image/png", headers={"Content-Disposition": f'filename="{filename}"'}
            )

        @app.get("/object_info")
        async def object_info() -> dict[str, Any]:
            return {name: self._object_info(name, spec) for name, spec in self._node_classes().items()}

        @app.get("/object_info/{node_class}")
        async def object_info_node(node_class: str) -> dict[str, Any]:
            classes = self._node_classes()
            if node_class not in classes:
                return {}
            return {node_class: self._object_info(node_class, classes[node_class])}

        @app.get("/system_stats")
        async def system_stats() -> dict[str, Any]:
            free = self.vram_free()
            with self._lock:
                torch_total = self.checkpoint_vram if self.loaded_checkpoint else 0
            return {
                "system": {
                    "os": "posix",
                    "ram_total": 64 * GiB,
                    "ram_free": 48 * GiB,
                    "comfyui_version": self.version,
                    "python_version": "3.12.3 (main)",
                    "pytorch_version": "2.8.0+cu128",
                    "embedded_python": False,
                    "argv": ["main.py", "--listen", "127.0.0.1"],
                },
                "devices": [
                    {
                        "name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
                        "type": "cuda",
                        "index": 0,
                        "vram_total": self.vram_total,
                        "vram_free": free,
                        "torch_vram_total": torch_total,
                        "torch_vram_free": 0,
                    }
                ],
            }

        @app.post("/free")
        async def free(request: Request) -> Response:
            body = await request.json()
            if body.get("unload_models") or body.get("free_memory"):
                with self._lock:
                    # ComfyUI acts on the flags between prompts.
                    if self.running:
                        self._free_pending = True
                    else:
                        self.loaded_checkpoint = None
            return Response(status_code=200)

        @app.get("/queue")
        async def queue() -> dict[str, Any]:
            with self._lock:
                return {
                    "queue_running": copy.deepcopy(self.running),
                    "queue_pending": copy.deepcopy(self.pending),
                }

        @app.post("/interrupt")
        async def interrupt() -> Response:
            with self._lock:
                self._interrupted = bool(self.running)
            return Response(status_code=200)

        return app


def _error(kind: str, message: str, details: str) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


def _reason(kind: str, message: str, details: str, input_name: str, value: Any = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"input_name": input_name}
    if value is not None:
        extra["received_value"] = value
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def _link_problems(
    prompt: dict[str, Any], name: str, link: list[Any], kind: Any, classes: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    if len(link) != 2:
        message = "Bad linked input, must be a length-2 list of [node_id, slot_index]"
        return [_reason("bad_linked_input", message, name, name, link)]
    source = prompt.get(str(link[0]))
    if source is None:
        message = "Exception when validating inner node"
        return [_reason("exception_during_inner_validation", message, f"'{link[0]}'", name, link)]
    returned = classes[source["class_type"]]["output"]
    slot = link[1]
    received = returned[slot] if isinstance(slot, int) and 0 <= slot < len(returned) else None
    if received != kind:
        message = "Return type mismatch between linked nodes"
        return [_reason("return_type_mismatch", message, f"{name}, {received} != {kind}", name, link)]
    return []


def _upstream(prompt: dict[str, Any], node_id: str) -> list[str]:
    """`node_id` and every node it depends on, dependencies first."""
    order: list[str] = []

    def visit(current: str) -> None:
        if current in order or current not in prompt:
            return
        for value in (prompt[current].get("inputs") or {}).values():
            if isinstance(value, list) and len(value) == 2:
                visit(str(value[0]))
        order.append(current)

    visit(node_id)
    return order
