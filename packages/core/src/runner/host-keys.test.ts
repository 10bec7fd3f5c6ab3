import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  appendKnownHost,
  checkKnownHosts,
  fingerprintOf,
  keyTypeOf,
  knownHostsName,
  normalizeFingerprint,
  patternsMatch,
} from "./host-keys.js";
import { SshRunner } from "./ssh-runner.js";

/** An SSH wire-format public key blob: string type, string key. */
function blob(type = "ssh-ed25519"): Buffer {
  const t = Buffer.from(type);
  const k = randomBytes(32);
  const out = Buffer.alloc(8 + t.length + k.length);
  out.writeUInt32BE(t.length, 0);
  t.copy(out, 4);
  out.writeUInt32BE(k.length, 4 + t.length);
  k.copy(out, 8 + t.length);
  return out;
}

describe("host keys", () => {
  it("computes fingerprints the way ssh-keygen prints them", () => {
    const key = blob();
    const expected = `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
    expect(fingerprintOf(key)).toBe(expected);
    expect(normalizeFingerprint(`${expected}=`)).toBe(expected);
    expect(() => normalizeFingerprint("MD5:aa:bb")).toThrow(/not a SHA-256/);
    expect(keyTypeOf(key)).toBe("ssh-ed25519");
  });

  it("names hosts as known_hosts does and matches plain, wildcard, negated and hashed patterns", () => {
    expect(knownHostsName("10.0.0.5", 22)).toBe("10.0.0.5");
    expect(knownHostsName("10.0.0.5", 2222)).toBe("[10.0.0.5]:2222");
    expect(patternsMatch("host1,10.0.0.5", "10.0.0.5")).toBe(true);
    expect(patternsMatch("10.0.0.*", "10.0.0.5")).toBe(true);
    expect(patternsMatch("10.0.0.*,!10.0.0.5", "10.0.0.5")).toBe(false);
    expect(patternsMatch("10.0.0.5", "[10.0.0.5]:2222")).toBe(false);
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("[10.0.0.5]:2222").digest("base64")}`;
    expect(patternsMatch(hashed, "[10.0.0.5]:2222")).toBe(true);
    expect(patternsMatch(hashed, "10.0.0.5")).toBe(false);
  });

  it("tells match, unknown, changed and revoked apart, ignoring @cert-authority lines", () => {
    const key = blob();
    const other = blob();
    const line = (k: Buffer, host = "10.0.0.5") => `${host} ssh-ed25519 ${k.toString("base64")}`;
    expect(checkKnownHosts(line(key), "10.0.0.5", key).kind).toBe("match");
    expect(checkKnownHosts(line(key, "10.0.0.6"), "10.0.0.5", key).kind).toBe("unknown");
    expect(checkKnownHosts(`@cert-authority ${line(other)}`, "10.0.0.5", key).kind).toBe("unknown");
    const changed = checkKnownHosts(`# c\n${line(other)}`, "10.0.0.5", key);
    expect(changed.kind).toBe("changed");
    if (changed.kind === "changed")
      expect(changed.known[0]).toMatchObject({ line: 2, fingerprint: fingerprintOf(other) });
    expect(checkKnownHosts(`@revoked ${line(key)}\n${line(key)}`, "10.0.0.5", key).kind).toBe("revoked");
  });

  it("appends plain and hashed entries that read back as matches", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labgate-kh-"));
    try {
      const path = join(dir, "sub", "known_hosts");
      const a = blob();
      const b = blob("ecdsa-sha2-nistp256");
      await appendKnownHost(path, "10.0.0.5", a);
      await appendKnownHost(path, "[10.0.0.6]:2222", b, true);
      const text = await readFile(path, "utf8");
      expect(text.split("\n")[0]).toBe(`10.0.0.5 ssh-ed25519 ${a.toString("base64")}`);
      expect(text.split("\n")[1]).toMatch(/^\|1\|/);
      expect(checkKnownHosts(text, "10.0.0.5", a).kind).toBe("match");
      expect(checkKnownHosts(text, "[10.0.0.6]:2222", b).kind).toBe("match");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("SshRunner.describe", () => {
  it("shows the command as typed, with the port only when it is not 22", () => {
    const r = new SshRunner({ host: "10.0.0.5", username: "oneadmin" });
    expect(r.describe("usermod", ["-aG", "lxd", "oneadmin"], { sudo: true })).toBe(
      "ssh oneadmin@10.0.0.5 -- sudo -n -- usermod -aG lxd oneadmin",
    );
    expect(r.describe("ls", ["a b"], { cwd: "/var/lib/one" })).toBe(
      "ssh oneadmin@10.0.0.5 -- cd -- /var/lib/one && exec ls 'a b'",
    );
    expect(new SshRunner({ host: "h", port: 2222, username: "u" }).describe("true", [])).toBe(
      "ssh -p 2222 u@h -- true",
    );
  });
});
