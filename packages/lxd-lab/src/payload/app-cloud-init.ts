import { displayQuote, InvalidInputError } from "@labgate/core";
import { type CloudConfigFile, renderCloudConfig } from "./cloud-config.js";
import type { PayloadFile } from "./sentiment-app.js";

export const APP_INSTALL_DIR = "/opt/labgate/sentiment-app";
export const APP_SERVICE_NAME = "labgate-sentiment";

export interface AppCloudInitOptions {
  /** Instance name: the X-Served-By value (e.g. "app1"). */
  name: string;
  port: number;
  /** Address the app binds to inside the instance (default all interfaces). */
  host?: string;
  /** The payload files (readSentimentAppFiles()). */
  files: PayloadFile[];
  installDir?: string;
}

/** The systemd unit that keeps the app running; restarts it if it dies. */
export function renderAppSystemdUnit(o: {
  name: string;
  port: number;
  host: string;
  installDir: string;
}): string {
  return [
    "[Unit]",
    `Description=labgate sentiment-analysis demo app (${o.name})`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    "DynamicUser=yes",
    `Environment=LABGATE_INSTANCE=${o.name}`,
    `ExecStart=/usr/bin/python3 ${o.installDir}/app.py --name ${o.name} --host ${o.host} --port ${o.port}`,
    "Restart=on-failure",
    "RestartSec=1",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** Start script run by runcmd: systemd when it is PID 1, else a detached nohup process. */
export function renderAppSetupScript(o: {
  name: string;
  port: number;
  host: string;
  installDir: string;
}): string {
  const dir = displayQuote(o.installDir);
  const args = `--name ${displayQuote(o.name)} --host ${displayQuote(o.host)} --port ${o.port}`;
  return [
    "#!/bin/sh",
    "# Written by labgate: starts the sentiment app and waits until /health answers.",
    "set -eu",
    "command -v python3 >/dev/null 2>&1 || { echo 'labgate: python3 is missing on this image' >&2; exit 1; }",
    `chmod 0755 ${dir} && chmod 0644 ${dir}/*`,
    "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then",
    "  systemctl daemon-reload",
    `  systemctl enable ${APP_SERVICE_NAME}.service`,
    `  systemctl restart ${APP_SERVICE_NAME}.service`,
    "else",
    `  pkill -F /run/${APP_SERVICE_NAME}.pid 2>/dev/null || true`,
    `  nohup python3 ${dir}/app.py ${args} >>/var/log/${APP_SERVICE_NAME}.log 2>&1 &`,
    `  echo $! >/run/${APP_SERVICE_NAME}.pid`,
    "fi",
    "i=0",
    `until python3 -c 'import sys,urllib.request; urllib.request.urlopen("http://127.0.0.1:${o.port}/health", timeout=2)' 2>/dev/null; do`,
    "  i=$((i+1)); [ $i -ge 30 ] && { echo 'labgate: app did not answer /health within 30s' >&2; exit 1; }",
    "  sleep 1",
    "done",
    `echo "labgate: ${o.name} is serving on port ${o.port}"`,
    "",
  ].join("\n");
}

/** `#cloud-config` user-data for an app instance: the payload, a unit, and a start script. */
export function buildAppCloudInit(options: AppCloudInitOptions): string {
  const installDir = options.installDir ?? APP_INSTALL_DIR;
  const host = options.host ?? "0.0.0.0";
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(options.name)) {
    throw new InvalidInputError(
      "APP_NAME_INVALID",
      `App instance name "${options.name}" is not a valid name.`,
      {
        hint: "Use letters, digits, '.', '_' and '-' (e.g. app1).",
      },
    );
  }
  if (!options.files.some((f) => f.name === "app.py")) {
    throw new InvalidInputError("APP_PAYLOAD_INCOMPLETE", "The app payload has no app.py.", {
      hint: "Pass readSentimentAppFiles() as files.",
    });
  }
  const o = { name: options.name, port: options.port, host, installDir };
  const setupPath = "/usr/local/sbin/labgate-app-setup.sh";
  const files: CloudConfigFile[] = [
    ...options.files.map((f) => ({ path: `${installDir}/${f.name}`, content: f.content })),
    { path: `/etc/systemd/system/${APP_SERVICE_NAME}.service`, content: renderAppSystemdUnit(o) },
    { path: setupPath, content: renderAppSetupScript(o), permissions: "0755" },
  ];
  // `sh <script>` rather than executing it: not every context agent applies `permissions`.
  return renderCloudConfig(files, [`sh ${setupPath}`]);
}
