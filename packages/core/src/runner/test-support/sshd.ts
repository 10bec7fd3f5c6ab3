import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { freePort } from "../../test-support/free-ports.js";
import { waitForPort } from "../../test-support/wait-for-port.js";

const SSHD = "/usr/sbin/sshd";

export interface TestSshd {
  port: number;
  dir: string;
  user: string;
  privateKeyPath: string;
  privateKey: string;
  hostPublicKeyLine: string;
  hostFingerprint: string;
  /** A second, unrelated host key: what a man-in-the-middle would present. */
  otherHostPublicKeyLine: string;
  otherHostFingerprint: string;
  stop(): Promise<void>;
}

async function keygen(path: string): Promise<{ line: string; fingerprint: string }> {
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "labgate-test", "-f", path]);
  const line = (await readFile(`${path}.pub`, "utf8")).trim();
  const { stdout } = await execa("ssh-keygen", ["-lf", `${path}.pub`]);
  return { line, fingerprint: stdout.split(" ")[1] ?? "" };
}

export interface TestSshdOptions {
  /** Every login first sleeps this long (BASH_ENV), like a host whose shell profile is slow. */
  loginDelaySeconds?: number;
}

/** Starts a real OpenSSH server on 127.0.0.1 (free port) with its own host key and a user key for this user. */
export async function startSshd(options: TestSshdOptions = {}): Promise<TestSshd> {
  if (!existsSync(SSHD))
    throw new Error(`${SSHD} is missing: install openssh-server (apt-get install -y openssh-server).`);
  const dir = await mkdtemp(join(tmpdir(), "labgate-sshd-"));
  const host = await keygen(join(dir, "host_ed25519"));
  const other = await keygen(join(dir, "other_ed25519"));
  const user = await keygen(join(dir, "user_ed25519"));
  await writeFile(join(dir, "authorized_keys"), `${user.line}\n`, { mode: 0o600 });
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const port = await freePort();
  const config = [
    `ListenAddress 127.0.0.1:${port}`,
    `HostKey ${join(dir, "host_ed25519")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    "UsePAM no",
    "StrictModes no",
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "LogLevel ERROR",
  ];
  if (options.loginDelaySeconds) {
    // BASH_ENV is inherited by every bash the login starts (profiles run helper scripts): sleep only once.
    await writeFile(
      join(dir, "slow-login.sh"),
      `[ -n "$LABGATE_SLOW_LOGIN" ] || { export LABGATE_SLOW_LOGIN=1; sleep ${options.loginDelaySeconds}; }\n`,
    );
    config.push(`SetEnv BASH_ENV=${join(dir, "slow-login.sh")}`);
  }
  await writeFile(join(dir, "sshd_config"), `${config.join("\n")}\n`);
  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  await waitForPort(port, child, () => log);
  return {
    port,
    dir,
    user: userInfo().username,
    privateKeyPath: join(dir, "user_ed25519"),
    privateKey: await readFile(join(dir, "user_ed25519"), "utf8"),
    hostPublicKeyLine: host.line,
    hostFingerprint: host.fingerprint,
    otherHostPublicKeyLine: other.line,
    otherHostFingerprint: other.fingerprint,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(null)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
