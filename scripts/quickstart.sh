#!/usr/bin/env bash
# The README's first command: installs everything on a fresh Debian machine and runs the main job,
# a local lab (two sentiment-analysis apps behind HAProxy on this machine) plus a benchmark against SLOs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund   # its prepare script builds every package (the `labgate` command)
# LXD is optional for the demo; set it up so `npm test` can run the LXD suite too (skip with LABGATE_NO_LXD=1).
if [ "${LABGATE_NO_LXD:-0}" != "1" ]; then
  bash scripts/ci/setup-lxd.sh || echo "labgate: LXD setup failed; the local demo does not need it (see above)." >&2
fi
exec node packages/cli/dist/bin.js demo --yes "$@"
