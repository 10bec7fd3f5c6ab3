import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { InvalidInputError } from "../errors.js";
import { writeFileAtomic } from "../fs/atomic-write.js";
import { withFileLock } from "../fs/file-lock.js";

/** `SHA256:base64` without padding, exactly as `ssh-keygen -lf` prints it. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** Accepts `SHA256:abc...` with or without `=` padding; anything else is a typo worth reporting. */
export function normalizeFingerprint(fingerprint: string): string {
  const match = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(fingerprint.trim());
  if (!match) {
    throw new InvalidInputError(
      "INVALID_HOST_KEY_FINGERPRINT",
      `"${fingerprint}" is not a SHA-256 host key fingerprint.`,
      {
        hint: "Copy it from `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host: it looks like SHA256:<43 characters>.",
      },
    );
  }
  return `SHA256:${match[1]}`;
}

/** The key type named inside an SSH public key blob (its first wire-format string). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString("latin1");
}

/** How a host appears in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export interface KnownHostEntry {
  line: number;
  marker?: "@revoked" | "@cert-authority";
  patterns: string;
  keyType: string;
  keyBase64: string;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority")
      marker = fields.shift() as KnownHostEntry["marker"];
    const [patterns, keyType, keyBase64] = fields;
    if (!patterns || !keyType || !keyBase64) return;
    entries.push({ line: index + 1, ...(marker ? { marker } : {}), patterns, keyType, keyBase64 });
  });
  return entries;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

/** Does the host-pattern field match `name` (plain, wildcard, negated or hashed `|1|salt|hash`)? */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) {
    const [, , salt, hash] = patterns.split("|");
    if (!salt || !hash) return false;
    const digest = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return digest === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(",")) {
    const negated = pattern.startsWith("!");
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export type HostKeyVerdict =
  | { kind: "match"; entry: KnownHostEntry }
  | { kind: "unknown" }
  | { kind: "revoked"; entry: KnownHostEntry }
  | { kind: "changed"; known: Array<KnownHostEntry & { fingerprint: string }> };

/** Checks a presented key against known_hosts text for `name` (as made by knownHostsName). */
export function checkKnownHosts(text: string, name: string, keyBlob: Buffer): HostKeyVerdict {
  const presented = keyBlob.toString("base64");
  const entries = parseKnownHosts(text).filter(
    (e) => e.marker !== "@cert-authority" && patternsMatch(e.patterns, name),
  );
  const revoked = entries.find((e) => e.marker === "@revoked" && e.keyBase64 === presented);
  if (revoked) return { kind: "revoked", entry: revoked };
  const plain = entries.filter((e) => e.marker === undefined);
  const match = plain.find((e) => e.keyBase64 === presented);
  if (match) return { kind: "match", entry: match };
  if (plain.length === 0) return { kind: "unknown" };
  return {
    kind: "changed",
    known: plain.map((e) => ({ ...e, fingerprint: fingerprintOf(Buffer.from(e.keyBase64, "base64")) })),
  };
}

/** Key types already known for a host, to negotiate one of them first (as OpenSSH does). */
export function knownKeyTypes(text: string, name: string): string[] {
  return [
    ...new Set(
      parseKnownHosts(text)
        .filter((e) => e.marker === undefined && patternsMatch(e.patterns, name))
        .map((e) => e.keyType),
    ),
  ];
}

export async function readKnownHosts(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
}

/**
 * Appends `name keytype base64` to known_hosts under a lock, atomically (mode 0600, directory 0700 when created).
 * `hashed` writes the `|1|salt|hash` form, as `HashKnownHosts yes` does.
 */
export async function appendKnownHost(
  path: string,
  name: string,
  keyBlob: Buffer,
  hashed = false,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let hostField = name;
  if (hashed) {
    const salt = randomBytes(20);
    hostField = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
  }
  const line = `${hostField} ${keyTypeOf(keyBlob)} ${keyBlob.toString("base64")}\n`;
  await withFileLock(path, async () => {
    const current = await readKnownHosts(path);
    const separator = current === "" || current.endsWith("\n") ? "" : "\n";
    await writeFileAtomic(path, `${current}${separator}${line}`, { mode: 0o600 });
  });
}
