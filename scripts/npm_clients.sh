#!/usr/bin/env bash
# Installs the real JavaScript clients (openai, ollama, @anthropic-ai/sdk, Claude Code, Codex CLI) the
# end-to-end tests drive, at the versions pinned in tests/npm_clients/package-lock.json, into the folder
# given as $1 (default .npm-clients). Quick on a second run: the install is stamped with the lock's hash.
# Without node/npm it says so and returns 0; the tests then skip with that reason.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-.npm-clients}"
[[ "$dest" = /* ]] || dest="$root/$dest"
src="$root/tests/npm_clients"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "npm_clients: node/npm not found; the JavaScript client tests will skip"
    exit 0
fi

lock_hash="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-12)"
stamp="$dest/.installed-$lock_hash"
if [[ -f "$stamp" && -d "$dest/node_modules" ]]; then
    echo "npm_clients: $dest is ready ($lock_hash)"
    exit 0
fi

mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
# Install scripts stay on: Claude Code and Codex fetch nothing in them but set up their native parts.
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
rm -f "$dest"/.installed-*
touch "$stamp"
echo "npm_clients: installed the clients pinned in $src/package-lock.json into $dest"
