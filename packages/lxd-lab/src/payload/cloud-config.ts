import { renderCloudConfig as renderCloudConfigDocument } from "@labgate/core";

/** One cloud-init write_files entry (only keys OpenNebula's context agent also honours). */
export interface CloudConfigFile {
  path: string;
  content: string;
  /** Octal string, e.g. "0644". */
  permissions?: string;
  owner?: string;
}

/**
 * `#cloud-config` user-data with write_files + runcmd ONLY: OpenNebula's context agent applies
 * just those two modules, so anything else (packages:, bootcmd:) would silently not happen there.
 * Setup logic therefore lives in a shell script written by write_files and started by runcmd.
 */
export function renderCloudConfig(files: CloudConfigFile[], runcmd: string[]): string {
  const document = {
    write_files: files.map((f) => ({
      path: f.path,
      ...(f.owner ? { owner: f.owner } : {}),
      permissions: f.permissions ?? "0644",
      // Text beyond ASCII goes base64: cloud-init's LXD datasource (Debian bookworm, 22.4) decodes the
      // user-data as Latin-1, so an em dash in lexicon.txt arrived as "â€”" (seen by the deploy check).
      ...(isAscii(f.content)
        ? { content: f.content }
        : { encoding: "b64", content: Buffer.from(f.content, "utf8").toString("base64") }),
    })),
    runcmd,
  };
  return renderCloudConfigDocument(document);
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}
