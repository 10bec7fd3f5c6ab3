#!/usr/bin/env bash
# Installs every Debian package labgate and its tests need. Idempotent; run as root (or it uses sudo).
set -euo pipefail

PACKAGES=(
  haproxy            # the load balancer of every lab, and `haproxy -c -f` validation in tests
  python3            # the sentiment-analysis app payload (standard library only)
  openssh-server     # tests start their own sshd on 127.0.0.1 for the SSH runner
  openssh-client     # ssh-keygen for those tests
  lxd                # the LXD provider and its end-to-end suite
  iptables           # LXD refuses to create a managed bridge without it
  nftables           # LXD's firewall driver: with iptables it leaves a deleted bridge's rules behind
  dnsmasq-base       # LXD starts dnsmasq for every managed bridge, DHCP or not
  debootstrap        # `labgate image build`: offline Debian images for LXD
  xz-utils
  chromium           # the bench's HTML report is checked in headless Chromium
  wrk                # npm run bench:self measures labgate's load engine against wrk
  python3-prometheus-client  # the bench's OpenMetrics snapshot is checked with Prometheus' own parser
  python3-jsonschema  # `labgate schema` output is checked against the draft 2020-12 meta-schema, examples validated with it
  time               # /usr/bin/time: bench:self reads each generator's CPU seconds and peak RSS
  openssl            # the bench engines' TLS test makes a throwaway self-signed certificate
  procps             # pgrep/ps for process checks
  iproute2           # ip netns and tc netem: the network-namespace tests and the delay/loss faults (absent from minimal images)
  util-linux         # script(1) drives the confirmation gate through a real pseudo-terminal in tests
  acl                # getfacl in host diagnostics
  sudo               # the SSH runner's sudo tests run `sudo -n` on the test sshd
  ca-certificates
  iputils-arping     # `labgate ip allocate` probes candidates by ARP (arping -D, RFC 5227) before handing them out
  iputils-ping       # ... and by ping on subnets this machine is not attached to
  postgresql-15      # the shared IP ledger's tests start their own PostgreSQL (initdb in a temp dir, unix socket only)
  cloud-init         # network-config is checked with cloud-init's own parser and renderers (kept disabled on this host, below)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# cloud-init is installed for its Python modules only: this marker keeps it from ever configuring this host at boot.
if [ ! -e /etc/cloud/cloud-init.disabled ]; then
  $SUDO mkdir -p /etc/cloud
  $SUDO touch /etc/cloud/cloud-init.disabled
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "labgate: installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "labgate: all Debian packages already installed" >&2
fi
