#!/usr/bin/env bash
# Prepares this machine for the LXD end-to-end suite; idempotent (every step checks first).
#   1. Debian packages lxd, iptables (LXD needs it for managed bridges), debootstrap (offline image)
#   2. the LXD daemon (started by hand when there is no systemd), waited for
#   3. storage pool "default" (dir driver) and a root disk in the default profile
#   4. labgate's offline Debian image, built once with debootstrap and cached
#      (LABGATE_IMAGE_CACHE, default ~/.cache/labgate/images), imported under labgate/debian-bookworm
# Environment: LABGATE_SKIP_IMAGE=1 skips step 4; LXD_LOG (default /tmp/lxd.log).
set -euo pipefail
cd "$(dirname "$0")/../.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
LXD_LOG="${LXD_LOG:-/tmp/lxd.log}"

missing=()
for p in lxd iptables debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-lxd: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! $SUDO lxc info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    echo "setup-lxd: starting lxd with systemctl" >&2
    $SUDO systemctl start lxd || true
  fi
fi
if ! $SUDO lxc info >/dev/null 2>&1; then
  echo "setup-lxd: starting the LXD daemon (log: $LXD_LOG)" >&2
  # setsid + nohup: the daemon must outlive this script and the CI step that ran it.
  $SUDO setsid nohup lxd --group root --logfile "$LXD_LOG" >/dev/null 2>&1 < /dev/null &
fi
$SUDO lxd waitready --timeout 60
echo "setup-lxd: LXD $($SUDO lxd --version) is ready" >&2

if ! $SUDO lxc storage show default >/dev/null 2>&1; then
  echo "setup-lxd: creating storage pool default (dir)" >&2
  $SUDO lxc storage create default dir
fi
if ! $SUDO lxc profile device show default | grep -q '^root:'; then
  echo "setup-lxd: adding the root disk (pool default) to the default profile" >&2
  $SUDO lxc profile device add default root disk path=/ pool=default
fi

if [ "${LABGATE_SKIP_IMAGE:-0}" != "1" ]; then
  if [ ! -f packages/cli/dist/bin.js ] || [ ! -f packages/lxd-lab/dist/index.js ]; then
    npx turbo run build --output-logs=errors-only >&2
  fi
  # Cached: a second run finds the tarballs and the image in LXD and changes nothing.
  $SUDO node packages/cli/dist/bin.js image build --yes ${LABGATE_IMAGE_CACHE:+--cache "$LABGATE_IMAGE_CACHE"} >&2
fi
echo "setup-lxd: done" >&2
