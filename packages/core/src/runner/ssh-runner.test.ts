import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clearRegisteredSecrets, registerSecret } from "../util/redact.js";
import { SshRunner, type SshRunnerOptions } from "./ssh-runner.js";
import { startSshd, type TestSshd } from "./test-support/sshd.js";

let sshd: TestSshd;

beforeAll(async () => {
  sshd = await startSshd();
}, 30_000);
afterAll(async () => {
  await sshd?.stop();
});

function runner(options: Partial<SshRunnerOptions> = {}): SshRunner {
  return new SshRunner({
    host: "127.0.0.1",
    port: sshd.port,
    username: sshd.user,
    privateKeyPath: sshd.privateKeyPath,
    hostKeyFingerprints: [sshd.hostFingerprint],
    connectTimeoutMs: 5_000,
    ...options,
  });
}

async function errorOf(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; exitCode?: number; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}

describe("SshRunner against a real OpenSSH server", () => {
  it("passes arguments with spaces, quotes, $(), backticks, newlines, ; and * literally", async () => {
    const r = runner();
    const args = [
      "a b",
      "it's",
      '"double"',
      "$(id -u)",
      "`whoami`",
      "line1\nline2",
      "a;b",
      "*",
      "",
      "--",
      "-n",
      "\\back",
      "$HOME",
      "x && y",
      "|",
    ];
    const result = await r.run("printf", ["%s\\n", ...args]);
    expect(result.stdout).toBe(`${args.join("\n")}\n`);
    expect(result.exitCode).toBe(0);
    expect(result.command).toMatch(/^ssh -p \d+ \w+@127\.0\.0\.1 -- printf /);
    await r.close();
  });

  it("runs in a cwd with spaces and never falls through when the cwd is missing", async () => {
    const r = runner();
    const dir = join(sshd.dir, "my dir; $(x)");
    await mkdir(dir);
    expect((await r.run("pwd", [], { cwd: dir })).stdout).toBe(`${dir}\n`);
    const missing = join(sshd.dir, "missing dir");
    const failed = await r.run("touch", ["fell-through"], { cwd: missing, allowFailure: true });
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stderr).toMatch(/missing dir/);
    await expect(stat(join(sshd.dir, "fell-through"))).rejects.toThrow();
    await r.close();
  });

  it("passes env values and stdin literally", async () => {
    const r = runner();
    expect((await r.run("printenv", ["GREETING"], { env: { GREETING: "hi $USER `x` 'q'" } })).stdout).toBe(
      "hi $USER `x` 'q'\n",
    );
    expect((await r.run("cat", [], { input: "from stdin\n$(nope)" })).stdout).toBe("from stdin\n$(nope)");
    await r.close();
  });

  it("reports a non-zero exit as COMMAND_FAILED with the stderr tail, or returns it when allowed", async () => {
    const r = runner();
    const error = await errorOf(r.run("sh", ["-c", "echo first >&2; echo oops >&2; exit 3"]));
    expect(error.code).toBe("COMMAND_FAILED");
    expect(error.details?.exitCode).toBe(3);
    expect(error.message).toContain("exited with 3");
    expect(error.message).toContain("oops");
    const allowed = await r.run("sh", ["-c", "exit 4"], { allowFailure: true });
    expect(allowed.exitCode).toBe(4);
    expect(allowed.stderr).toBe("");
    await r.close();
  });

  it("redacts registered secrets from output and the display form", async () => {
    registerSecret("hunter2-secret");
    try {
      const r = runner({ sudoPassword: "sudo-pass-123" });
      const result = await r.run("echo", ["pw=hunter2-secret"]);
      expect(result.stdout).toBe("pw=***\n");
      expect(result.command).not.toContain("hunter2-secret");
      expect(r.describe("usermod", ["-aG", "lxd", "oneadmin"], { sudo: true })).toBe(
        `ssh -p ${sshd.port} ${sshd.user}@127.0.0.1 -- sudo -S -p '' -- usermod -aG lxd oneadmin`,
      );
      await r.close();
    } finally {
      clearRegisteredSecrets();
    }
  });

  it("runs through sudo -n, sudo -u and env with the arguments intact (needs the sudo package)", async () => {
    const r = runner();
    expect((await r.run("id", ["-u"], { sudo: true })).stdout).toBe("0\n");
    const asNobody = await r.run(
      "sh",
      ["-c", 'printf "%s|%s|%s" "$(id -un)" "$HOME" "$1"', "sh", "a 'b' $(c)"],
      {
        sudoUser: "nobody",
        env: { HOME: "/home/oneadmin" },
      },
    );
    expect(asNobody.stdout).toBe("nobody|/home/oneadmin|a 'b' $(c)");
    expect(asNobody.command).toContain("-- sudo -n -u nobody -- env HOME=/home/oneadmin sh -c");
    await r.close();
  });

  it("never hands the sudo password to the command when sudo does not ask for it (needs the sudo package)", async () => {
    // The test user is root here, so sudo never prompts: exactly the case where `sudo -S` alone would pass
    // the password line on to the command's stdin.
    const r = runner({ sudoPassword: "sudo-pass-456" });
    expect((await r.run("cat", [], { sudo: true, input: "payload\n" })).stdout).toBe("payload\n");
    const file = join(sshd.dir, "tee d; $(x)");
    await r.run("tee", [file], { sudo: true, input: "[Service]\n", cwd: sshd.dir });
    expect(await readFile(file, "utf8")).toBe("[Service]\n");
    const asNobody = await r.run("sh", ["-c", 'id -un; cat; printf "%s" "$1"', "sh", "a 'b'"], {
      sudoUser: "nobody",
      input: "in",
    });
    expect(asNobody.stdout).toBe("nobody\nina 'b'");
    await r.close();
  });

  it("kills a command that outlives its timeout and reports RUNNER_TIMEOUT", async () => {
    const r = runner();
    const started = Date.now();
    const error = await errorOf(r.run("sleep", ["60.0417"], { timeoutMs: 500 }));
    expect(error.code).toBe("RUNNER_TIMEOUT");
    expect(error.exitCode).toBe(8);
    expect(Date.now() - started).toBeLessThan(3_000);
    // The remote process is gone too (sshd is on this machine, so pgrep sees it); the kill takes a login
    // of its own, which root's profile here makes slow: up to 20 s.
    const { execa } = await import("execa");
    let left = "";
    for (let i = 0; i < 200; i++) {
      left = (await execa("pgrep", ["-f", "sleep 60.0417"], { reject: false })).stdout;
      if (!left) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(left).toBe("");
    // Through sudo too: the group is killed with sudo.
    await expect(r.run("sleep", ["60.0418"], { sudo: true, timeoutMs: 500 })).rejects.toMatchObject({
      code: "RUNNER_TIMEOUT",
    });
    for (let i = 0; i < 200; i++) {
      left = (await execa("pgrep", ["-f", "sleep 60.0418"], { reject: false })).stdout;
      if (!left) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(left).toBe("");
    // The connection is still usable.
    expect((await r.run("echo", ["after"])).stdout).toBe("after\n");
    await r.close();
  }, 90_000);

  it("on a host with a slow login, the kill still lands before close() returns", async () => {
    // Killing the process group takes a login of its own. With a slow profile it used to be given up after
    // 3 s, and close() then dropped the connection before the kill ran: the command kept running.
    const slow = await startSshd({ loginDelaySeconds: 3.2 });
    const r = new SshRunner({
      host: "127.0.0.1",
      port: slow.port,
      username: slow.user,
      privateKeyPath: slow.privateKeyPath,
      hostKeyFingerprints: [slow.hostFingerprint],
      connectTimeoutMs: 30_000,
    });
    try {
      const { execa } = await import("execa");
      const running = () => execa("pgrep", ["-f", "sleep 30.0419"], { reject: false }).then((p) => p.stdout);
      // Interrupted once the command runs on the host (after its slow login), far sooner than it ends.
      const controller = new AbortController();
      const run = r.run("sleep", ["30.0419"], { signal: controller.signal });
      const failed = run.catch((e: unknown) => e);
      while (!(await running())) await new Promise((resolve) => setTimeout(resolve, 100));
      controller.abort();
      expect(await failed).toMatchObject({ code: "RUNNER_ABORTED" });
      await r.close();
      let left = "";
      for (let i = 0; i < 10; i++) {
        left = await running();
        if (!left) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(left).toBe("");
    } finally {
      await r.close();
      await slow.stop();
      await import("execa").then(({ execa }) => execa("pkill", ["-f", "sleep 30.0419"], { reject: false }));
    }
  }, 120_000);

  it("honours an abort signal", async () => {
    const r = runner();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const error = await errorOf(r.run("sleep", ["10"], { signal: controller.signal }));
    expect(error.code).toBe("RUNNER_ABORTED");
    await r.close();
  });
});

describe("host key verification", () => {
  it("refuses a pinned fingerprint mismatch, naming both fingerprints", async () => {
    const error = await errorOf(runner({ hostKeyFingerprints: [sshd.otherHostFingerprint] }).run("true", []));
    expect(error.code).toBe("HOST_KEY_CHANGED");
    expect(error.message).toContain(sshd.hostFingerprint);
    expect(error.message).toContain(sshd.otherHostFingerprint);
  });

  it("accepts a plain and a hashed known_hosts entry, refuses a changed one naming the line", async () => {
    const name = `[127.0.0.1]:${sshd.port}`;
    const [type, key] = sshd.hostPublicKeyLine.split(" ");
    const plain = join(sshd.dir, "kh-plain");
    await writeFile(
      plain,
      `# comment\nother.example ${sshd.otherHostPublicKeyLine}\n${name} ${type} ${key}\n`,
    );
    expect(
      (await runner({ hostKeyFingerprints: undefined, knownHostsPath: plain }).run("echo", ["ok"])).stdout,
    ).toBe("ok\n");

    const { createHmac, randomBytes } = await import("node:crypto");
    const salt = randomBytes(20);
    const hashedName = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
    const hashed = join(sshd.dir, "kh-hashed");
    await writeFile(hashed, `${hashedName} ${type} ${key}\n`);
    expect(
      (await runner({ hostKeyFingerprints: undefined, knownHostsPath: hashed }).run("echo", ["ok"])).stdout,
    ).toBe("ok\n");

    const changed = join(sshd.dir, "kh-changed");
    await writeFile(changed, `# first line\n${name} ${sshd.otherHostPublicKeyLine}\n`);
    const error = await errorOf(
      runner({ hostKeyFingerprints: undefined, knownHostsPath: changed }).run("true", []),
    );
    expect(error.code).toBe("HOST_KEY_CHANGED");
    expect(error.message).toContain(sshd.hostFingerprint);
    expect(error.message).toContain(sshd.otherHostFingerprint);
    expect(error.message).toContain(`${changed}:2`);
    // Even a gate that would say yes cannot accept a changed key.
    const gated = await errorOf(
      runner({
        hostKeyFingerprints: undefined,
        knownHostsPath: changed,
        onUnknownHostKey: async () => true,
      }).run("true", []),
    );
    expect(gated.code).toBe("HOST_KEY_CHANGED");
  });

  it("refuses an unknown host without a gate, and records it when the gate accepts", async () => {
    const path = join(sshd.dir, "kh-new", "known_hosts");
    const refused = await errorOf(
      runner({ hostKeyFingerprints: undefined, knownHostsPath: path }).run("true", []),
    );
    expect(refused.code).toBe("HOST_KEY_UNKNOWN");
    expect(refused.message).toContain(sshd.hostFingerprint);

    const declined = await errorOf(
      runner({
        hostKeyFingerprints: undefined,
        knownHostsPath: path,
        onUnknownHostKey: async () => false,
      }).run("true", []),
    );
    expect(declined.code).toBe("HOST_KEY_UNKNOWN");
    await expect(stat(path)).rejects.toThrow();

    const asked: string[] = [];
    const accepting = runner({
      hostKeyFingerprints: undefined,
      knownHostsPath: path,
      // The person at the gate takes longer than the handshake timeout: the gate must not race it.
      connectTimeoutMs: 800,
      onUnknownHostKey: async (host, fingerprint) => {
        asked.push(`${host} ${fingerprint}`);
        await new Promise((resolve) => setTimeout(resolve, 1_200));
        return true;
      },
    });
    expect((await accepting.run("echo", ["in"])).stdout).toBe("in\n");
    await accepting.close();
    expect(asked).toEqual([`127.0.0.1 ${sshd.hostFingerprint}`]);
    const recorded = await readFile(path, "utf8");
    expect(recorded).toBe(
      `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKeyLine.split(" ").slice(0, 2).join(" ")}\n`,
    );
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    // Now known: no gate needed.
    expect(
      (await runner({ hostKeyFingerprints: undefined, knownHostsPath: path }).run("echo", ["again"])).stdout,
    ).toBe("again\n");
  });

  it("reports SSH_AUTH_FAILED for a key the server does not accept and SSH_CONNECT_FAILED for a closed port", async () => {
    const auth = await errorOf(runner({ privateKeyPath: join(sshd.dir, "other_ed25519") }).run("true", []));
    expect(auth.code).toBe("SSH_AUTH_FAILED");
    const { createServer } = await import("node:net");
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const a = s.address();
        s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
      });
    });
    const refused = await errorOf(runner({ port }).run("true", []));
    expect(refused.code).toBe("SSH_CONNECT_FAILED");
  });
});
