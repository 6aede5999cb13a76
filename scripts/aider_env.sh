#!/usr/bin/env bash
# Creates .venv-aider at the repository root (or the folder given as $1): a real aider for the
# end-to-end client tests. aider pins litellm, openai and pydantic to versions other than the
# project's, so it lives in a virtual environment of its own. Idempotent: a second run returns at
# once when the pinned version is already installed.
set -euo pipefail

AIDER_VERSION="0.86.2"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-.venv-aider}"
[[ "$venv" = /* ]] || venv="$root/$venv"
stamp="$venv/.roundhouse-pins"
want="aider-chat==$AIDER_VERSION"

if [[ -x "$venv/bin/aider" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "aider_env: $venv is ready ($want)"
    exit 0
fi

python="${PYTHON:-python3}"
if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "$want"
echo "$want" > "$stamp"
echo "aider_env: installed $want into $venv"
