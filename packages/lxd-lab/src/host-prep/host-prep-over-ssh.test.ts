import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clearRegisteredSecrets, registerSecret, SshRunner } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type TestSshd } from "../../../core/src/runner/test-support/sshd.js";
import { collectHostDiagnostics } from "./diagnostics.js";
import { oneadminGroupStep } from "./group-step.js";
import { findLocalLxdDaemon } from "./lxd-daemon.js";
import { restartNeeded } from "./restart-step.js";
import { memoryContext } from "./test-support/fake-host.js";
import { resolveHostPrep } from "./types.js";

/**
 * The read-only half of host preparation (probes and the ERROR diagnostics) through the real SSH runner to a
 * real OpenSSH on 127.0.0.1: sudo, sudo -u, env and the environ script as they go over the wire. Nothing is
 * changed on this machine. A copy of `sleep` under a unique name plays oned, with a secret in its environment.
 */
let sshd: TestSshd;
let dir: string;
let daemon: ChildProcess;
let runner: SshRunner;
const daemonName = `lgoned${process.pid % 100_000}`.slice(0, 15);
const SECRET = "Sup3r-s3cret-value";

beforeAll(async () => {
  sshd = await startSshd();
  dir = await mkdtemp(join(tmpdir(), "host-prep-ssh-"));
  await copyFile("/bin/sleep", join(dir, daemonName));
  daemon = spawn(join(dir, daemonName), ["300"], {
    env: { PATH: "/usr/bin:/bin", HOME: "/var/lib/one", ONE_AUTH_TOKEN: SECRET },
    stdio: "ignore",
  });
  runner = new SshRunner({
    host: "127.0.0.1",
    port: sshd.port,
    username: sshd.user,
    privateKeyPath: sshd.privateKeyPath,
    hostKeyFingerprints: [sshd.hostFingerprint],
  });
}, 30_000);
afterAll(async () => {
  daemon?.kill("SIGKILL");
  await runner?.close();
  await sshd?.stop();
  await rm(dir, { recursive: true, force: true });
  clearRegisteredSecrets();
});

function prep() {
  return resolveHostPrep({
    runner,
    hostName: "127.0.0.1",
    // nobody is never in lxd, and cannot create anything under the 0700 temp dir.
    oneadminUser: "nobody",
    overrideHome: join(dir, "no-home"),
    daemonProcess: daemonName,
    onedLog: join(dir, "oned.log"),
    serviceName: "labgate-test-no-such-unit",
  });
}

// Every SSH exec starts the user's login shell, and bash sources ~/.bashrc for sshd: on these machines root's
// runs `pyenv init` (1-3 s under load). The diagnostics take ~8 execs, so the per-test budget is per exec.
describe("host preparation probes over real SSH", { timeout: 120_000 }, () => {
  it("collects every diagnostics section, tails oned.log, reads the daemon's environment, redacts secrets", async () => {
    registerSecret(SECRET);
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i + 1}: monitoring 127.0.0.1`);
    lines.push(`Wed Nov 20 : auth session=oneadmin:${SECRET}`);
    await writeFile(join(dir, "oned.log"), `${lines.join("\n")}\n`);
    const o = prep();
    const d = await collectHostDiagnostics(runner, o);
    const titles = d.sections.map((s) => s.title);
    // The LXD daemon running here (the e2e one) is found by its own arguments, its log read where it really is.
    const lxd = findLocalLxdDaemon();
    const lxdTitle = lxd.logFile
      ? "LXD daemon log (tail)"
      : lxd.install === "not running"
        ? "LXD daemon"
        : "LXD daemon log (journal)";
    expect(titles).toEqual([
      "OpenNebula's view of the host",
      "oned.log (tail)",
      lxdTitle,
      "LXD socket permissions",
      "lxc as nobody",
      `environment of ${daemonName} (pid ${daemon.pid})`,
    ]);
    const section = (t: string) => d.sections.find((s) => s.title.startsWith(t))!;
    if (lxd.logFile) expect(section("LXD daemon log").command).toBe(`sudo -n -- tail -n 40 ${lxd.logFile}`);
    expect(section("OpenNebula's view").command).toBe("sudo -n -u nobody -- onehost show 127.0.0.1");
    expect(section("OpenNebula's view").exitCode).not.toBe(0);
    const log = section("oned.log");
    expect(log.exitCode).toBe(0);
    expect(log.output).not.toContain("line 10:");
    expect(log.output).toContain("line 50: monitoring 127.0.0.1");
    expect(log.output).toContain("session=***");
    expect(section("lxc as nobody").command).toBe(
      `sudo -n -u nobody -- env HOME=${join(dir, "no-home")} lxc version`,
    );
    const env = section("environment of");
    expect(env.exitCode).toBe(0);
    expect(env.output).toMatch(/^HOME=\/var\/lib\/one$/m);
    expect(env.output).toMatch(/^PATH=\/usr\/bin:\/bin$/m);
    expect(env.output).not.toContain(SECRET);
    expect(d.findings.join("\n")).toMatch(`${daemonName} runs with HOME=/var/lib/one, outside /home`);
  });

  it("reads the daemon's groups and the lxd group membership without changing anything", async () => {
    const o = prep();
    const restart = await restartNeeded(runner, o);
    expect(restart).toMatchObject({ needed: false, pid: daemon.pid });
    expect(restart.detail).toContain("HOME=/var/lib/one");
    const check = await oneadminGroupStep(o).actions.check(memoryContext());
    expect(check.done).toBe(false);
    expect(check.detail).toMatch(/^(lxd \(gid \d+\) members: .*|group lxd does not exist)$/);
    expect(check.detail).not.toMatch(/\bnobody\b/);
  });
});
