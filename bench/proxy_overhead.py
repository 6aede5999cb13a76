"""How much latency Roundhouse adds in front of a backend, beside LiteLLM's proxy.

Paths to the same instant OpenAI-compatible backend, measured in one run, taking turns
in blocks of requests (random order each round; Roundhouse's three dialects share a block,
request by request) so that machine noise hits all of them alike:

  direct     client -> backend
  roundhouse client -> roundhoused (openai_compat backend) -> backend, Chat Completions
  messages   the same daemon, spoken to in Anthropic Messages (POST /v1/messages)
  responses  the same daemon, spoken to in OpenAI Responses (POST /v1/responses)
  litellm    client -> litellm proxy -> backend        (needs .venv-bench: `pip install 'litellm[proxy]'`)

Prints p50 / p99 of non-stream latency and stream time-to-first-byte, the latency each proxy
adds over direct, Roundhouse's added latency as a fraction of LiteLLM's, and how far each
other dialect's added latency is from Chat Completions'.

    .venv/bin/python bench/proxy_overhead.py [--requests 2000] [--litellm .venv-bench/bin/litellm | none]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BODY = {
    "model": "gpt-bench",
    "messages": [{"role": "user", "content": "ping"}],
    "temperature": 0.7,
    "max_tokens": 8,
}
# The same question in each dialect Roundhouse speaks: endpoint and body.
DIALECTS: dict[str, tuple[str, dict[str, object]]] = {
    "roundhouse": ("/chat/completions", BODY),
    "messages": ("/messages", {"messages": BODY["messages"], "temperature": 0.7, "max_tokens": 8}),
    "responses": (
        "/responses",
        {"input": "ping", "temperature": 0.7, "max_output_tokens": 8, "store": False},
    ),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 180, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, headers=headers).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


def start_backend() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "instant_backend.py"), str(port)])
    url = f"http://127.0.0.1:{port}/v1"
    wait_ready(url + "/models")
    return proc, url


MASTER_KEY = "sk-bench-" + os.urandom(16).hex()


def start_roundhouse(backend_url: str, home: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(
        f"[embedded]\nenabled = false\n\n[ollama]\ndiscover_local = false\n\n"
        f'[[openai_compat]]\nname = "bench"\nbase_url = "{backend_url}"\nlocal = true\n'
    )
    env = {**os.environ, "ROUNDHOUSE_HOME": str(home), "ROUNDHOUSE_LOG_LEVEL": "warning"}
    roundhoused = Path(sys.executable).parent / "roundhoused"
    # Both proxies check a key on every request: an app token here, the master key there.
    token = subprocess.run(
        [str(roundhoused), "token", "create", "bench"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    proc = subprocess.Popen([str(roundhoused), "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + "/health")
    return proc, url + "/v1", token


def start_litellm(litellm: str, backend_url: str, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = home / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-bench\n"
        "    litellm_params:\n"
        "      model: openai/gpt-bench\n"
        f"      api_base: {backend_url}\n"
        "      api_key: bench\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_MASTER_KEY": MASTER_KEY,
    }
    proc = subprocess.Popen(
        [litellm, "--config", str(config), "--port", str(port), "--host", "127.0.0.1", "--num_workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + "/health/liveliness")
    return proc, url + "/v1"


def one_call(client: httpx.Client, base: str, stream: bool, path: str, model: str) -> float:
    endpoint, template = DIALECTS.get(path, DIALECTS["roundhouse"])
    body = {**template, "model": model, "stream": stream}
    started = time.perf_counter()
    if not stream:
        response = client.post(base + endpoint, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{base}: {response.status_code} {response.text[:300]}")
        response.read()
        return (time.perf_counter() - started) * 1000
    with client.stream("POST", base + endpoint, json=body) as response:
        response.raise_for_status()
        first = None
        for _ in response.iter_raw():
            if first is None:
                first = (time.perf_counter() - started) * 1000
        assert first is not None
        return first


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per path and mode")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--block", type=int, default=50, help="requests per path before the next path's turn")
    parser.add_argument(
        "--litellm",
        default=str(ROOT / ".venv-bench" / "bin" / "litellm"),
        help="the LiteLLM proxy's executable, or 'none' to compare with the direct call only",
    )
    args = parser.parse_args()

    procs: list[subprocess.Popen[bytes]] = []
    home = Path(tempfile.mkdtemp(prefix="rh-bench-"))
    try:
        backend, backend_url = start_backend()
        procs.append(backend)
        paths = {"direct": backend_url}
        rh, paths["roundhouse"], token = start_roundhouse(backend_url, home)
        procs.append(rh)
        paths["messages"] = paths["responses"] = paths["roundhouse"]
        keys = {"direct": "none", "litellm": MASTER_KEY} | {d: token for d in DIALECTS}
        if args.litellm != "none" and Path(args.litellm).exists():
            lite, paths["litellm"] = start_litellm(args.litellm, backend_url, home)
            procs.append(lite)
        elif args.litellm != "none":
            print(
                f"LiteLLM proxy not found at {args.litellm}: comparing against direct only", file=sys.stderr
            )

        models = {"direct": "gpt-bench", "litellm": "gpt-bench"} | {d: "bench/gpt-bench" for d in DIALECTS}
        results: dict[tuple[str, bool], list[float]] = {(p, s): [] for p in paths for s in (False, True)}
        clients = {
            p: httpx.Client(
                timeout=30,
                limits=httpx.Limits(max_keepalive_connections=1),
                headers={"Authorization": f"Bearer {keys[p]}"},
            )
            for p in paths
        }
        for path in paths:  # warm every path up
            for i in range(args.warmup):
                one_call(clients[path], paths[path], i % 2 == 1, path, models[path])
        # Paths take turns in blocks, in a fresh random order every round: machine noise is
        # spread over all of them, and a path is not measured right after another proxy's
        # request (LiteLLM's process is big enough to leave the caches cold for whoever is next).
        # Roundhouse's dialects share one block, taking turns request by request (random order
        # each time): they hit the same daemon, and are compared with each other most closely.
        groups = [[p] for p in paths if p not in DIALECTS] + [list(DIALECTS)]
        rounds = -(-args.requests // args.block)
        for _ in range(rounds):
            random.shuffle(groups)
            for group in groups:
                for _ in range(args.block):
                    random.shuffle(group)
                    for path in group:
                        for stream in (False, True):
                            results[(path, stream)].append(
                                one_call(clients[path], paths[path], stream, path, models[path])
                            )

        print(
            f"\nproxy overhead: {rounds * args.block} requests per path and mode, in blocks of {args.block}, "
            "Roundhouse's dialects taking turns within theirs, one client, keep-alive"
        )
        print(f"{'path':<12}{'mode':<14}{'p50 ms':>9}{'p99 ms':>9}{'added p50':>11}{'added p99':>11}")
        added: dict[tuple[str, bool], tuple[float, float]] = {}
        for stream in (False, True):
            mode = "stream TTFB" if stream else "non-stream"
            base50, base99 = pct(results[("direct", stream)], 0.5), pct(results[("direct", stream)], 0.99)
            for path in paths:
                values = results[(path, stream)]
                p50, p99 = pct(values, 0.5), pct(values, 0.99)
                extra = "" if path == "direct" else f"{p50 - base50:>11.3f}{p99 - base99:>11.3f}"
                if path != "direct":
                    added[(path, stream)] = (p50 - base50, p99 - base99)
                print(f"{path:<12}{mode:<14}{p50:>9.3f}{p99:>9.3f}{extra}")
        print()
        for stream in (False, True):
            mode = "stream TTFB" if stream else "non-stream"
            rh50 = added[("roundhouse", stream)][0]
            verdict = "met" if rh50 <= 0.5 else "MISSED"
            print(f"goal: Roundhouse adds <= 0.5 ms at p50 ({mode}): {rh50:.3f} ms -> {verdict}")
            if ("litellm", stream) in added:
                lite50 = added[("litellm", stream)][0]
                ratio = rh50 / lite50 if lite50 > 0 else float("inf")
                verdict = "met" if ratio <= 1 / 8 else "MISSED"
                print(
                    f"goal: Roundhouse adds <= 1/8 of LiteLLM's added p50 ({mode}): "
                    f"ratio {ratio:.3f} -> {verdict}"
                )
        print()
        for stream in (False, True):
            mode = "stream TTFB" if stream else "non-stream"
            chat50, chat99 = added[("roundhouse", stream)]
            for dialect in ("messages", "responses"):
                d50, d99 = added[(dialect, stream)]
                verdict = "met" if d50 - chat50 <= 0.1 else "MISSED"
                print(
                    f"goal: {dialect} within 0.1 ms of Chat Completions at p50 ({mode}): "
                    f"{d50 - chat50:+.3f} ms (p99 {d99 - chat99:+.3f} ms) -> {verdict}"
                )
        print(f"\nmean of direct non-stream: {statistics.mean(results[('direct', False)]):.3f} ms")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
