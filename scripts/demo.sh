#!/usr/bin/env bash
# make demo: the main job end to end on the LOCAL stage, against the embedded emulator.
# Later steps (deploy, params, idle, verify) are inserted before the final stop.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

stop() {
  step "garmaxctl local down"
  garmaxctl local down || true
}
trap stop EXIT

step "garmaxctl local up --detach"
garmaxctl local up --detach

step "garmaxctl doctor"
garmaxctl doctor

step "garmaxctl config show"
garmaxctl config show

step "garmaxctl local status -o json"
garmaxctl local status -o json
