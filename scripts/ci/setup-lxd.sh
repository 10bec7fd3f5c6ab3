#!/usr/bin/env bash
# Prepares this machine for the LXD end-to-end suite; idempotent (every step checks first).
#   1. Debian packages lxd, plus what LXD needs for a managed bridge and only recommends: iptables
#      and dnsmasq-base (LXD runs `dnsmasq --version` on every bridge it creates, DHCP or not);
#      nftables (without `nft`, LXD 5.0 falls back to xtables on the iptables-nft shim and cannot
#      remove a deleted bridge's FORWARD rules, so every lab down left two behind); debootstrap
#      for the offline image
#   2. the LXD daemon (started by hand when there is no systemd), waited for
#   3. storage pool "default" (dir driver) and a root disk in the default profile
#   4. labgate's offline Debian images, built once with debootstrap and cached
#      (LABGATE_IMAGE_CACHE, default ~/.cache/labgate/images): labgate/debian-bookworm (tiny init,
#      payload pushed through the API) and labgate/debian-bookworm-cloud (systemd + cloud-init, so
#      the suite also proves the cloud-init network-config / user-data path)
# Environment: LABGATE_SKIP_IMAGE=1 skips step 4; LXD_LOG (default /tmp/lxd.log; the daemon's stderr,
# where a crash is reported, goes to $LXD_LOG.stderr).
set -euo pipefail
cd "$(dirname "$0")/../.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
LXD_LOG="${LXD_LOG:-/tmp/lxd.log}"

missing=()
for p in lxd iptables nftables dnsmasq-base debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-lxd: installing ${missing[*]}" >&2
  # Another apt run (a helper, unattended-upgrades) may hold the dpkg lock: wait for it, not fail.
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! $SUDO lxc info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    echo "setup-lxd: starting lxd with systemctl" >&2
    $SUDO systemctl start lxd || true
  fi
fi
if ! $SUDO lxc info >/dev/null 2>&1; then
  echo "setup-lxd: starting the LXD daemon (log: $LXD_LOG)" >&2
  # setsid + nohup: the daemon must outlive this script and the CI step that ran it. Its stderr is
  # kept: a Go panic goes there, not to --logfile.
  $SUDO setsid nohup lxd --group root --logfile "$LXD_LOG" >>"$LXD_LOG.stderr" 2>&1 < /dev/null &
fi
$SUDO lxd waitready --timeout 60
echo "setup-lxd: LXD $($SUDO lxd --version) is ready" >&2
# A daemon started before nftables was installed keeps the xtables driver until it restarts.
if $SUDO lxc query /1.0 | grep -q '"firewall": *"xtables"' && command -v nft >/dev/null 2>&1; then
  echo "setup-lxd: warning: LXD runs its xtables firewall driver although nft is installed; restart LXD" \
    "(\`lxd shutdown\`, then run this script again) so deleted lab bridges leave no iptables rules" >&2
fi

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
  for variant in "" "--cloud-init"; do
    $SUDO node packages/cli/dist/bin.js image build --yes $variant ${LABGATE_IMAGE_CACHE:+--cache "$LABGATE_IMAGE_CACHE"} >&2
  done
fi
echo "setup-lxd: done" >&2
