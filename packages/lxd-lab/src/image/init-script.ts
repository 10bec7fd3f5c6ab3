/**
 * PID 1 of labgate's Debian image. No systemd: a container boots in well under a second, works
 * privileged or unprivileged, and needs no cgroup setup. It runs the boot hooks the LXD provider
 * leaves in /etc/labgate/boot.d (static address, app, HAProxy), reaps orphans, and on LXD's stop
 * signal (SIGPWR) terminates everything and exits.
 */
export const INIT_SCRIPT = `#!/bin/sh
# labgate-init: PID 1 of the labgate Debian image (see packages/lxd-lab/src/image/init-script.ts).
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run 2>/dev/null
mkdir -p /run/lock /run/haproxy /var/log/labgate
[ -r /etc/hostname ] && hostname "$(cat /etc/hostname)" 2>/dev/null
ip link set lo up 2>/dev/null
for hook in /etc/labgate/boot.d/*.sh; do
  [ -r "$hook" ] && sh "$hook" >>/var/log/labgate/boot.log 2>&1
done
stopping=0
trap 'stopping=1' PWR TERM INT
# "wait" on a short sleep also reaps any orphan re-parented to PID 1.
while [ "$stopping" = 0 ]; do
  sleep 1 &
  wait $! 2>/dev/null
done
kill -TERM -1 2>/dev/null
sleep 1
kill -KILL -1 2>/dev/null
exit 0
`;

export const HOSTNAME_TEMPLATE = "{{ container.name }}\n";
export const HOSTS_TEMPLATE =
  "127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n::1 localhost ip6-localhost ip6-loopback\n";
