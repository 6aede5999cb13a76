#!/usr/bin/env bash
# Build the Linux bundle, then run the daemon from it headless, as a user would:
#   roundhoused --version; roundhoused serve; one chat completion from the built-in model;
#   one embedding from the built-in embedder; then stop it.
# Where GNOME Keyring and dbus-run-session exist it also stores a key with the bundle's
# `roundhoused keys set` (keyring backends) and answers one cloud request through litellm from
# the bundle, against the loopback OpenAI stand-in. All of it under a throwaway HOME.
#
#   bash packaging/ci_bundle_check.sh               build, then check
#   SKIP_BUILD=1 bash packaging/ci_bundle_check.sh  check an existing dist/roundhouse
set -euo pipefail

cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
bundle=dist/roundhouse
daemon="$bundle/roundhoused"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    make --no-print-directory -f packaging/package.mk package PACKAGING_PYTHON="$python"
fi

# A private D-Bus session with its own keyring, so the user's real keyring is never touched.
if [ -z "${CHECK_HOME:-}" ] && command -v dbus-run-session >/dev/null 2>&1 \
    && command -v gnome-keyring-daemon >/dev/null 2>&1; then
    CHECK_HOME=$(mktemp -d)
    export CHECK_HOME PYTHON="$python"
    status=0
    HOME="$CHECK_HOME" SKIP_BUILD=1 dbus-run-session -- bash "$0" || status=$?
    rm -rf "$CHECK_HOME"
    exit "$status"
fi

echo "bundle size: $(du -sh "$bundle" | cut -f1)"
version=$("$daemon" --version)
echo "$version"
[[ "$version" =~ ^roundhoused\ [0-9]+\.[0-9]+ ]] || { echo "unexpected --version: $version" >&2; exit 1; }

home=${CHECK_HOME:-$(mktemp -d)}
pid=
standin_pid=
cleanup() {
    for process in "$pid" "$standin_pid"; do
        if [ -n "$process" ] && kill -0 "$process" 2>/dev/null; then
            kill -TERM "$process"
            wait "$process" 2>/dev/null || true
        fi
    done
    [ -n "${CHECK_HOME:-}" ] || rm -rf "$home"
}
trap cleanup EXIT

# A clean environment: the bundle must not lean on the build machine's Python or its packages.
run_env=(env -i PATH=/usr/bin:/bin HOME="$home" LANG=C.UTF-8 ROUNDHOUSE_HOME="$home"
    ROUNDHOUSE_OLLAMA__DISCOVER_LOCAL=false)

cloud_model=
if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    printf 'bundle-check\n' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    run_env+=(DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS")
    "$python" -c '
import time
from tests.standins.openai_server import OpenAIStandin

standin = OpenAIStandin().start()
print(standin.url, flush=True)
while True:
    time.sleep(60)
' >"$home/standin.url" &
    standin_pid=$!
    for _ in $(seq 100); do
        [ -s "$home/standin.url" ] && break
        sleep 0.2
    done
    standin_url=$(head -n 1 "$home/standin.url")
    [ -n "$standin_url" ] || { echo "the OpenAI stand-in did not start" >&2; exit 1; }
    printf 'sk-bundle-check-not-a-real-key\n' | "${run_env[@]}" "$daemon" keys set openai
    run_env+=(ROUNDHOUSE_CLOUD__API_BASE="{\"openai\": \"$standin_url\"}")
    cloud_model=openai/gpt-4o-mini
else
    echo "no Secret Service here: skipping the keyring and cloud part"
fi

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${run_env[@]}" "$daemon" serve --host 127.0.0.1 --port "$port" >"$home/daemon.out" 2>&1 &
pid=$!

"$python" - "$port" "$pid" "$home/daemon.out" "$cloud_model" <<'PY'
import json
import os
import sys
import time
import urllib.error
import urllib.request

port, pid, log, cloud_model = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
base = f"http://127.0.0.1:{port}"


def fail(message: str) -> None:
    print(f"bundle check failed: {message}\n--- daemon output ---", file=sys.stderr)
    with open(log, encoding="utf-8", errors="replace") as handle:
        print(handle.read()[-8000:], file=sys.stderr)
    sys.exit(1)


def post(path: str, body: dict) -> dict:
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        fail(f"{path}: HTTP {error.code}: {error.read().decode(errors='replace')}")
        raise


def chat(model: str, question: str) -> str:
    reply = post(
        "/v1/chat/completions",
        {"model": model, "messages": [{"role": "user", "content": question}], "max_tokens": 24, "temperature": 0},
    )
    answer = reply["choices"][0]["message"]["content"] or ""
    if not answer.strip():
        fail(f"empty answer from {model}: {reply}")
    return answer.strip()


started = time.monotonic()
while True:
    try:
        with urllib.request.urlopen(base + "/health", timeout=5) as response:
            if response.status == 200:
                break
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        pass
    if time.monotonic() - started > 240:
        fail("no healthy /health within 240 s")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        fail("the daemon exited")
    time.sleep(1)
print(f"healthy after {time.monotonic() - started:.1f} s")

print(f"chat answer (local/smollm2-135m): {chat('local/smollm2-135m', 'Name one colour of the rainbow.')!r}")

vectors = post("/v1/embeddings", {"model": "local/all-minilm-l6-v2", "input": ["a red bicycle"]})
dimensions = len(vectors["data"][0]["embedding"])
if dimensions != 384:
    fail(f"embedding has {dimensions} dimensions, not 384")
print(f"embedding: {dimensions} dimensions")

if cloud_model:
    answer = chat(cloud_model, "Say something.")
    if answer != "Cloud stand-in answer.":
        fail(f"unexpected cloud answer: {answer!r}")
    print(f"chat answer ({cloud_model}, key from the keyring, through litellm): {answer!r}")
PY

# The bundle's embedder runs on ONNX Runtime: the embedding above exported its model once
# (a missing onnxruntime or a failed export falls back to torch, slower but silent to a client).
if ! compgen -G "$home/data/cache/embedder/*.onnx" >/dev/null; then
    echo "the bundle's embedder is not on ONNX Runtime (no export in $home/data/cache/embedder)" >&2
    grep -i "embedder\|onnx" "$home/daemon.out" | tail -n 20 >&2 || true
    exit 1
fi
echo "embedder engine: onnx ($(basename "$(compgen -G "$home/data/cache/embedder/*.onnx" | head -n 1)"))"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
# uvicorn re-raises the SIGTERM it handled once shutdown is done: 143 is a clean stop.
if [ "$status" != 0 ] && [ "$status" != 143 ]; then
    echo "the daemon did not stop cleanly (exit status $status)" >&2
    tail -n 40 "$home/daemon.out" >&2
    exit 1
fi
pid=
echo "bundle check passed"
