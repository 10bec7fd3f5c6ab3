import { type CloudConfigFile, renderCloudConfig } from "../payload/cloud-config.js";
import { type HaproxyConfigOptions, renderHaproxyConfig } from "./render-config.js";

export const LB_CONFIG_STAGING_PATH = "/etc/labgate/haproxy.cfg";
export const LB_FALLBACK_CONFIG_PATH = "/etc/labgate/haproxy.no-prometheus.cfg";
export const LB_SETUP_SCRIPT_PATH = "/usr/local/sbin/labgate-lb-setup.sh";
/** Where the setup script installs the chosen config: the file HAProxy (and `systemctl reload`) reads. */
export const LB_INSTALLED_CONFIG_PATH = "/etc/haproxy/haproxy.cfg";
/**
 * HAProxy's runtime API socket inside an LB instance (Debian's own haproxy.cfg uses this path): faults
 * drain or disable a server through it (`set server <be>/<srv> state drain`), run inside the instance.
 */
export const LB_STATS_SOCKET = "/run/haproxy/admin.sock";

/**
 * `#cloud-config` user-data for a load-balancer instance: installs HAProxy if the image lacks it,
 * installs the rendered config (with a Prometheus-less fallback for HAProxy builds without
 * USE_PROMEX), checks it with `haproxy -c`, and (re)starts HAProxy under systemd or directly.
 */
export function buildLbCloudInit(given: HaproxyConfigOptions): string {
  const options = { statsSocket: LB_STATS_SOCKET, ...given };
  const primary = renderHaproxyConfig({ ...options, prometheus: options.prometheus ?? true });
  const fallback = renderHaproxyConfig({ ...options, prometheus: false });
  const files: CloudConfigFile[] = [
    { path: LB_CONFIG_STAGING_PATH, content: primary },
    { path: LB_FALLBACK_CONFIG_PATH, content: fallback },
    { path: LB_SETUP_SCRIPT_PATH, content: renderLbSetupScript(options.port), permissions: "0755" },
  ];
  return renderCloudConfig(files, [`sh ${LB_SETUP_SCRIPT_PATH}`]);
}

export function renderLbSetupScript(port: number): string {
  return [
    "#!/bin/sh",
    "# Written by labgate: installs HAProxy if needed, installs the lab's config and starts it.",
    "set -eu",
    "if ! command -v haproxy >/dev/null 2>&1; then",
    "  export DEBIAN_FRONTEND=noninteractive",
    "  apt-get update",
    "  apt-get install -y -o Dpkg::Options::=--force-confold haproxy",
    "fi",
    `cfg=${LB_CONFIG_STAGING_PATH}`,
    'if ! haproxy -c -f "$cfg" >/dev/null 2>&1; then',
    "  echo 'labgate: HAProxy rejected the config with the Prometheus exporter; using the stats-only config' >&2",
    `  cfg=${LB_FALLBACK_CONFIG_PATH}`,
    '  haproxy -c -f "$cfg"',
    "fi",
    `install -m 0644 "$cfg" ${LB_INSTALLED_CONFIG_PATH}`,
    // The runtime API socket's directory: systemd's unit makes it, a plain `haproxy -D` does not.
    `mkdir -p ${LB_STATS_SOCKET.slice(0, LB_STATS_SOCKET.lastIndexOf("/"))}`,
    "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then",
    "  systemctl enable haproxy",
    "  systemctl restart haproxy",
    "else",
    '  [ -f /run/haproxy.pid ] && kill "$(cat /run/haproxy.pid)" 2>/dev/null || true',
    `  haproxy -D -f ${LB_INSTALLED_CONFIG_PATH} -p /run/haproxy.pid`,
    "fi",
    `echo "labgate: HAProxy is listening on port ${port}"`,
    "",
  ].join("\n");
}
