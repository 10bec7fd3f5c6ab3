import { homedir } from "node:os";
import { join } from "node:path";
import { NodeSSH } from "node-ssh";
import {
  CommandFailedError,
  HostKeyError,
  InvalidInputError,
  RunnerTimeoutError,
  SshConnectError,
} from "../errors.js";
import { redact } from "../util/redact.js";
import {
  appendKnownHost,
  checkKnownHosts,
  fingerprintOf,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  normalizeFingerprint,
  readKnownHosts,
} from "./host-keys.js";
import { commandWords, displayCommandLine, remoteCommandLine, tail } from "./shell-quote.js";
import { sudoPasswordLine } from "./sudo-password-line.js";
import type { Runner, RunOptions, RunResult } from "./types.js";

export interface SshRunnerOptions {
  host: string;
  port?: number;
  username: string;
  /** Private key text (OpenSSH or PEM). */
  privateKey?: string;
  privateKeyPath?: string;
  passphrase?: string;
  password?: string;
  /** ssh-agent socket; defaults to SSH_AUTH_SOCK when no key or password is given. */
  agent?: string;
  /**
   * Password for `sudo -S`, sent as the first stdin line and never shown; the command never receives it (see
   * sudoPasswordLine). Without it sudo runs with `-n` (no prompt).
   */
  sudoPassword?: string;
  /** Pinned host key fingerprints (`SHA256:...` as `ssh-keygen -lf` prints); when set, known_hosts is not consulted. */
  hostKeyFingerprints?: string[];
  /** known_hosts file to verify against and record accepted keys in; default ~/.ssh/known_hosts. */
  knownHostsPath?: string;
  /** The gate for a host not in known_hosts: resolve true to trust (and record) the key. Without it, unknown hosts are refused. */
  onUnknownHostKey?: (host: string, fingerprint: string) => Promise<boolean>;
  /** Record accepted keys in hashed `|1|salt|hash` form, as `HashKnownHosts yes` does. */
  hashKnownHosts?: boolean;
  /** Handshake timeout (default 15 s). */
  connectTimeoutMs?: number;
}

/** The part of ssh2's Client and ClientChannel this runner uses (ssh2 ships no types). */
interface Ssh2Channel {
  on(event: "data", listener: (chunk: Buffer) => void): this;
  on(event: "exit", listener: (code: number | null, signal?: string) => void): this;
  on(event: "close", listener: () => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  stderr: { on(event: "data", listener: (chunk: Buffer) => void): void };
  end(data?: string): void;
  signal(name: string): void;
  close(): void;
}
interface Ssh2Client {
  exec(command: string, callback: (error: Error | undefined, channel: Ssh2Channel) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
}

/**
 * Sends an SSH "signal" request (OpenSSH ≥ 7.9 kills the remote process group with it). ssh2's
 * `channel.signal()` silently does nothing once stdin is ended, so the request goes through the protocol
 * object when the channel is still open. Without it, sshd would leave the command running after close.
 */
function sendSignal(channel: Ssh2Channel, name: string): void {
  const internal = channel as unknown as {
    _client?: { _protocol?: { signal?(id: number, name: string): void } };
    outgoing?: { id?: number; state?: string };
  };
  try {
    const id = internal.outgoing?.id;
    const state = internal.outgoing?.state;
    if ((state === "open" || state === "eof") && id !== undefined && internal._client?._protocol?.signal) {
      internal._client._protocol.signal(id, name);
    } else channel.signal(name);
  } catch {
    // The channel is already gone: nothing left to kill.
  }
}

const PID_PREFIX = `printf 'labgate-pid:%s\\n' "$$" >&2 && `;
const PID_LINE = /^labgate-pid:(\d+)\n/m;
/** How long killing a process group may take: it runs through a login of its own, and profiles can be slow. */
const KILL_GROUP_TIMEOUT_MS = 30_000;

const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
};
const ALL_HOST_KEY_ALGORITHMS = [...new Set(Object.values(HOST_KEY_ALGORITHMS).flat())];

/** Runs commands on a host over SSH (node-ssh / ssh2), with verified host keys and every argument shell-quoted. */
export class SshRunner implements Runner {
  readonly target: string;
  readonly #options: SshRunnerOptions;
  readonly #port: number;
  readonly #pinned: string[] | undefined;
  #connecting: Promise<Ssh2Client> | undefined;
  /** Kills of timed-out or interrupted commands still under way: close() lets them finish first. */
  readonly #kills = new Set<Promise<void>>();
  #ssh: NodeSSH | undefined;
  #hostKeyFailure: Error | undefined;
  #unknownKey: { key: Buffer; fingerprint: string; knownHostsPath: string; name: string } | undefined;

  constructor(options: SshRunnerOptions) {
    if (!options.host || !options.username) {
      throw new InvalidInputError("INVALID_SSH_TARGET", "An SSH runner needs a host and a user name.");
    }
    this.#options = options;
    this.#port = options.port ?? 22;
    this.#pinned = options.hostKeyFingerprints?.map(normalizeFingerprint);
    this.target = `${options.username}@${options.host}:${this.#port}`;
  }

  #sudoFlags(): string[] {
    return this.#options.sudoPassword ? ["-S", "-p", ""] : ["-n"];
  }

  #secrets(): string[] {
    return [this.#options.sudoPassword, this.#options.password, this.#options.passphrase].filter(
      (s): s is string => typeof s === "string",
    );
  }

  describe(command: string, args: readonly string[], options: RunOptions = {}): string {
    const words = commandWords(command, args, options, this.#sudoFlags());
    const port = this.#port === 22 ? "" : `-p ${this.#port} `;
    return redact(
      `ssh ${port}${this.#options.username}@${this.#options.host} -- ${displayCommandLine(words, options.cwd)}`,
      this.#secrets(),
    );
  }

  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const words = commandWords(command, args, options, this.#sudoFlags());
    const usesSudoPassword = Boolean((options.sudo || options.sudoUser) && this.#options.sudoPassword);
    const remote = usesSudoPassword
      ? sudoPasswordLine(
          commandWords(command, args, options.env ? { env: options.env } : {}),
          options.sudoUser,
          options.cwd,
        )
      : remoteCommandLine(words, options.cwd);
    // The shell reports its pid (= the session's process group, sshd calls setsid) so a timeout can kill the group.
    const line = `${PID_PREFIX}${remote}`;
    const display = this.describe(command, args, options);
    const input = `${usesSudoPassword ? `${this.#options.sudoPassword}\n` : ""}${options.input ?? ""}`;
    const client = await this.#connect();
    const started = performance.now();
    const raw = await this.#exec(client, line, input, display, options);
    const durationMs = Math.round(performance.now() - started);
    const stdout = redact(raw.stdout, this.#secrets());
    const stderr = redact(raw.stderr, this.#secrets());
    if (raw.exitCode !== 0 && !options.allowFailure) {
      throw new CommandFailedError(display, raw.exitCode, tail(stderr), this.target);
    }
    return { stdout, stderr, exitCode: raw.exitCode, command: display, durationMs };
  }

  #exec(
    client: Ssh2Client,
    line: string,
    input: string,
    display: string,
    options: RunOptions,
  ): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    return new Promise((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let exitCode: number | undefined;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let channel: Ssh2Channel | undefined;
      let killing = false;
      const stderrText = () => Buffer.concat(stderr).toString("utf8").replace(PID_LINE, "");
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else {
          resolve({
            stdout: Buffer.concat(stdout).toString("utf8"),
            stderr: stderrText(),
            exitCode: exitCode ?? 255,
          });
        }
      };
      /**
       * Kills the remote command: the SSH signal request (not every sshd honours it), then `kill` on its
       * process group. A shell that has not reported its pid yet never runs the command: its pid line
       * fails on the closed channel, and the command only runs after it (`printf ... && command`).
       */
      const kill = async () => {
        // From here on the run ends with the timeout/abort error, not with the exit the kill causes.
        killing = true;
        if (!channel) return;
        sendSignal(channel, "KILL");
        channel.close();
        const pid = PID_LINE.exec(Buffer.concat(stderr).toString("utf8"))?.[1];
        if (pid) await this.#killGroup(client, pid, options);
      };
      /** The kill goes on in the background (its own login can be slow); close() waits for it. */
      const killInBackground = () => {
        const done = kill().catch(() => {});
        this.#kills.add(done);
        void done.finally(() => this.#kills.delete(done));
      };
      /** Ends the run with `error` now, and kills the command. */
      const killAndFail = (error: Error) => {
        killInBackground();
        finish(error);
      };
      const onAbort = () => {
        if (settled || killing) return;
        killAndFail(
          new RunnerTimeoutError("RUNNER_ABORTED", `\`${display}\` was interrupted.`, {
            hint: "Run the step again to continue.",
            details: { command: display },
          }),
        );
      };
      if (options.signal?.aborted) return void onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          if (killing) return;
          killAndFail(
            new RunnerTimeoutError(
              "RUNNER_TIMEOUT",
              `\`${display}\` did not finish within ${options.timeoutMs} ms on ${this.target}; its channel was closed.`,
              {
                hint: "Raise the timeout if the command is just slow, or log in and check what it waits for.",
                details: {
                  command: display,
                  timeoutMs: options.timeoutMs,
                  stderrTail: tail(redact(stderrText(), this.#secrets())),
                },
              },
            ),
          );
        }, options.timeoutMs);
      }
      client.exec(line, (error, opened) => {
        if (error) {
          finish(
            new SshConnectError(
              "SSH_CONNECT_FAILED",
              `Could not start \`${display}\` on ${this.target}: ${error.message}`,
              {
                cause: error,
                hint: "The connection may have dropped; retry.",
              },
            ),
          );
          return;
        }
        channel = opened;
        opened.on("data", (chunk) => stdout.push(chunk));
        opened.stderr.on("data", (chunk) => stderr.push(chunk));
        opened.on("exit", (code) => {
          exitCode = code ?? 255;
        });
        opened.on("error", (channelError) => {
          if (!killing) finish(channelError);
        });
        opened.on("close", () => {
          if (!killing) finish();
        });
        // Timed out or interrupted before the channel opened: kill what it started.
        if (settled) return void killInBackground();
        opened.end(input);
      });
    });
  }

  /** `kill -s KILL -- -PGID` on a second channel, through sudo when the command ran through sudo. Bounded by KILL_GROUP_TIMEOUT_MS. */
  #killGroup(client: Ssh2Client, pid: string, options: RunOptions): Promise<void> {
    const sudo = Boolean(options.sudo || options.sudoUser);
    const words = commandWords("kill", ["-s", "KILL", "--", `-${pid}`], { sudo }, this.#sudoFlags());
    const input = sudo && this.#options.sudoPassword ? `${this.#options.sudoPassword}\n` : "";
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, KILL_GROUP_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      try {
        client.exec(remoteCommandLine(words), (error, channel) => {
          if (error) return done();
          channel.on("data", () => {});
          channel.stderr.on("data", () => {});
          channel.on("error", done);
          channel.on("close", done);
          channel.end(input);
        });
      } catch {
        done();
      }
    });
  }

  #connect(): Promise<Ssh2Client> {
    this.#connecting ??= this.#open().catch((error) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  async #open(): Promise<Ssh2Client> {
    try {
      return await this.#handshake();
    } catch (error) {
      const unknown = this.#unknownKey;
      this.#unknownKey = undefined;
      const gate = this.#options.onUnknownHostKey;
      if (!(error instanceof HostKeyError) || error.code !== "HOST_KEY_UNKNOWN" || !unknown || !gate)
        throw error;
      if (!(await gate(this.#options.host, unknown.fingerprint))) throw error;
      await appendKnownHost(
        unknown.knownHostsPath,
        unknown.name,
        unknown.key,
        this.#options.hashKnownHosts ?? false,
      );
      return this.#handshake();
    }
  }

  async #handshake(): Promise<Ssh2Client> {
    const o = this.#options;
    const knownHostsPath = o.knownHostsPath ?? join(homedir(), ".ssh", "known_hosts");
    const name = knownHostsName(o.host, this.#port);
    const knownText = this.#pinned ? "" : await readKnownHosts(knownHostsPath);
    // Negotiate a key type we already know first, so a host with several keys is not mistaken for a changed one.
    const known = knownKeyTypes(knownText, name).flatMap((t) => HOST_KEY_ALGORITHMS[t] ?? []);
    const serverHostKey = [...known, ...ALL_HOST_KEY_ALGORITHMS.filter((a) => !known.includes(a))];
    this.#hostKeyFailure = undefined;
    const hostVerifier = (key: Buffer, verify: (ok: boolean) => void) => {
      this.#verifyHostKey(key, knownText, knownHostsPath, name).then(
        () => verify(true),
        (error: Error) => {
          this.#hostKeyFailure = error;
          verify(false);
        },
      );
    };
    const agent =
      o.agent ?? (o.privateKey || o.privateKeyPath || o.password ? undefined : process.env.SSH_AUTH_SOCK);
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        host: o.host,
        port: this.#port,
        username: o.username,
        readyTimeout: o.connectTimeoutMs ?? 15_000,
        hostVerifier,
        algorithms: { serverHostKey } as never,
        ...(o.privateKey ? { privateKey: o.privateKey } : {}),
        ...(o.privateKeyPath ? { privateKeyPath: o.privateKeyPath } : {}),
        ...(o.passphrase ? { passphrase: o.passphrase } : {}),
        ...(o.password ? { password: o.password } : {}),
        ...(agent ? { agent } : {}),
      } as never);
    } catch (error) {
      ssh.dispose();
      if (this.#hostKeyFailure) throw this.#hostKeyFailure;
      throw this.#connectError(error);
    }
    this.#ssh = ssh;
    const client = ssh.connection as unknown as Ssh2Client;
    // A dropped connection must not crash the process; the next run reconnects.
    client.on("error", () => {
      if (this.#ssh === ssh) this.#forget();
    });
    ssh.connection?.on("close", () => {
      if (this.#ssh === ssh) this.#forget();
    });
    return client;
  }

  #forget(): void {
    this.#ssh = undefined;
    this.#connecting = undefined;
  }

  async #verifyHostKey(key: Buffer, knownText: string, knownHostsPath: string, name: string): Promise<void> {
    const fingerprint = fingerprintOf(key);
    const where = `${this.#options.host} port ${this.#port}`;
    if (this.#pinned) {
      if (this.#pinned.includes(fingerprint)) return;
      throw new HostKeyError(
        "HOST_KEY_CHANGED",
        `The host key of ${where} is ${fingerprint} (${keyTypeOf(key)}), but the pinned fingerprint is ${this.#pinned.join(" or ")}. Refusing to connect: this can be a man-in-the-middle.`,
        {
          hint: "If the host was reinstalled, check its new key on its console with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` and update the pinned fingerprint.",
          details: {
            host: this.#options.host,
            port: this.#port,
            presented: fingerprint,
            pinned: this.#pinned,
          },
        },
      );
    }
    const verdict = checkKnownHosts(knownText, name, key);
    if (verdict.kind === "match") return;
    if (verdict.kind === "revoked") {
      throw new HostKeyError(
        "HOST_KEY_REVOKED",
        `The host key ${fingerprint} of ${where} is marked @revoked in ${knownHostsPath} line ${verdict.entry.line}. Refusing to connect.`,
        {
          hint: "Ask the host's administrator for its current key.",
          details: { presented: fingerprint, knownHostsPath },
        },
      );
    }
    if (verdict.kind === "changed") {
      const lines = verdict.known.map((k) => `${knownHostsPath}:${k.line} (${k.keyType} ${k.fingerprint})`);
      throw new HostKeyError(
        "HOST_KEY_CHANGED",
        `The host key of ${where} has changed: it now presents ${fingerprint} (${keyTypeOf(key)}) but known_hosts has ${lines.join(", ")}. Refusing to connect: this can be a man-in-the-middle.`,
        {
          hint: `If the host was reinstalled, verify its new key on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then remove the old entry with \`ssh-keygen -R '${name}' -f ${knownHostsPath}\` and connect again.`,
          details: {
            host: this.#options.host,
            port: this.#port,
            presented: fingerprint,
            known: verdict.known.map((k) => ({
              line: k.line,
              keyType: k.keyType,
              fingerprint: k.fingerprint,
            })),
            knownHostsPath,
          },
        },
      );
    }
    // The gate is asked after this handshake fails (see #open), so a person reading the fingerprint is not
    // racing the handshake timeout; the reconnect then has to present the very key that was accepted.
    this.#unknownKey = { key, fingerprint, knownHostsPath, name };
    throw new HostKeyError(
      "HOST_KEY_UNKNOWN",
      `${where} is not in ${knownHostsPath}; its ${keyTypeOf(key)} key is ${fingerprint}. Refusing to connect to an unverified host.`,
      {
        hint: `Compare the fingerprint with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host's console, then accept it at the prompt or pin it.`,
        details: { host: this.#options.host, port: this.#port, presented: fingerprint, knownHostsPath },
      },
    );
  }

  #connectError(error: unknown): SshConnectError {
    const e = error as Error & { level?: string; code?: string };
    const message = redact(e.message ?? String(error), this.#secrets());
    if (e.level === "client-authentication") {
      return new SshConnectError(
        "SSH_AUTH_FAILED",
        `${this.#options.username}@${this.#options.host} refused every offered credential (${message}).`,
        {
          cause: error,
          hint: `Check that the public key is in ~${this.#options.username}/.ssh/authorized_keys on the host, or pass the right key with its path.`,
          details: { target: this.target },
        },
      );
    }
    return new SshConnectError("SSH_CONNECT_FAILED", `Could not connect to ${this.target}: ${message}.`, {
      cause: error,
      hint: "Check the address and port, that sshd runs on the host, and that no firewall blocks it.",
      details: { target: this.target, ...(e.code ? { errno: e.code } : {}) },
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#kills);
    const ssh = this.#ssh;
    this.#forget();
    ssh?.dispose();
  }
}
