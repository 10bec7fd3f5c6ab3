import { displayQuote, InvalidInputError } from "@labgate/core";
import { parse } from "yaml";

/**
 * The payload as a START_SCRIPT: the same write_files + runcmd the cloud-config carries, as a POSIX shell script.
 * START_SCRIPT / START_SCRIPT_BASE64 run on every context package (addon-context-linux
 * src/etc/one-context.d/loc-90-start-script; one-apps context-linux keeps it), while USER_DATA cloud-config is
 * read only by one-apps context 6.10.0-3 and later: addon-context-linux (6.8 and older images) and 6.10.0–6.10.4
 * ignore it, so a lab that relied on it would boot VMs without their apps.
 * Only START_SCRIPT_BASE64 is sent (not USER_DATA too): on 6.10.5+ both would run and install twice.
 */
interface WriteFile {
  path: string;
  content: string;
  permissions?: string;
  owner?: string;
  encoding?: string;
}

/** The file's bytes as base64, honouring cloud-init's write_files `encoding` (cc_write_files.py). */
function contentBase64(f: WriteFile): string {
  const encoding = (f.encoding ?? "text/plain").toLowerCase();
  if (encoding === "b64" || encoding === "base64") return f.content.replace(/\s+/g, "");
  if (encoding === "text/plain") return Buffer.from(f.content, "utf8").toString("base64");
  throw new InvalidInputError(
    "ONE_START_SCRIPT_ENCODING",
    `write_files ${f.path}: encoding "${f.encoding}" cannot go into an OpenNebula start script.`,
    { hint: "Use encoding b64, base64 or text/plain (or leave it out) for files the OpenNebula lab writes." },
  );
}

export function cloudConfigToStartScript(cloudConfig: string): string {
  if (!cloudConfig.startsWith("#cloud-config"))
    throw new InvalidInputError("ONE_START_SCRIPT_PAYLOAD", "The payload is not a #cloud-config document.", {
      hint: "An OpenNebula lab payload must start with the line #cloud-config.",
    });
  const doc = (parse(cloudConfig) ?? {}) as { write_files?: WriteFile[]; runcmd?: Array<string | string[]> };
  const lines = [
    "#!/bin/sh",
    "# Written by labgate: the lab payload, run by OpenNebula's context package (START_SCRIPT_BASE64) at every boot.",
    "set -eu",
    "exec >>/var/log/labgate-start.log 2>&1",
    'echo "labgate start script: $(date)"',
  ];
  for (const f of doc.write_files ?? []) {
    if (typeof f.path !== "string" || typeof f.content !== "string")
      throw new InvalidInputError(
        "ONE_START_SCRIPT_PAYLOAD",
        "A write_files entry has no path or no content.",
        {
          hint: "Give every write_files entry a path and a content string.",
        },
      );
    const path = displayQuote(f.path);
    lines.push(`mkdir -p "$(dirname ${path})"`);
    lines.push(`printf '%s' ${displayQuote(contentBase64(f))} | base64 -d > ${path}`);
    lines.push(`chmod ${displayQuote(f.permissions ?? "0644")} ${path}`);
    if (f.owner) lines.push(`chown ${displayQuote(f.owner)} ${path}`);
  }
  for (const cmd of doc.runcmd ?? []) {
    lines.push(
      Array.isArray(cmd) ? cmd.map((w) => displayQuote(String(w))).join(" ") : `sh -c ${displayQuote(cmd)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
