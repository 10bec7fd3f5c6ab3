import { PlatformConfigError } from "../errors.js";
import { LocalRunner } from "../runner/local-runner.js";
import { displayQuote } from "../runner/shell-quote.js";
import { SshRunner } from "../runner/ssh-runner.js";
import type { Runner } from "../runner/types.js";

/** Runs the command steps of a plan: on this machine (qemu-img, genisoimage, scp) or on the hypervisor host (vmkfstools). */
export interface CommandRunner {
  run(where: "local" | "host", argv: readonly string[], signal?: AbortSignal): Promise<string>;
  /** Copies a local file to the host. */
  put(localPath: string, remotePath: string, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** For printing plans: quotes only where a shell needs it. */
export const quoteForDisplay = displayQuote;

export interface EsxiSshOptions {
  host?: string;
  username?: string;
  privateKeyPath?: string;
  port?: number;
  knownHostsPath?: string;
}

/**
 * The core runners: LocalRunner (argument arrays, no shell) here, SshRunner (known_hosts checked,
 * every argument quoted) on the ESXi host; files go over scp with the same key.
 */
export function defaultCommandRunner(ssh: EsxiSshOptions): CommandRunner {
  const local = new LocalRunner();
  let remote: Runner | undefined;
  const target = () => {
    if (!ssh.host || !ssh.privateKeyPath) {
      throw new PlatformConfigError(
        "PLATFORM_OPTION_MISSING",
        "Importing an image needs SSH access to the ESXi host (vmkfstools runs there).",
        {
          hint: "Set platform_options.esxi.ssh_host and ssh_key (a private key file), and enable SSH on the host (Host → Actions → Services → Enable SSH).",
        },
      );
    }
    return { host: ssh.host, key: ssh.privateKeyPath, user: ssh.username ?? "root", port: ssh.port ?? 22 };
  };
  return {
    async run(where, argv, signal) {
      const [program, ...args] = argv as [string, ...string[]];
      if (where === "local") return (await local.run(program, args, signal ? { signal } : {})).stdout;
      const t = target();
      remote ??= new SshRunner({
        host: t.host,
        username: t.user,
        privateKeyPath: t.key,
        port: t.port,
        ...(ssh.knownHostsPath ? { knownHostsPath: ssh.knownHostsPath } : {}),
      });
      return (await remote.run(program, args, signal ? { signal } : {})).stdout;
    },
    async put(localPath, remotePath, signal) {
      const t = target();
      await local.run(
        "scp",
        [
          "-i",
          t.key,
          "-P",
          String(t.port),
          "-o",
          "BatchMode=yes",
          localPath,
          `${t.user}@${t.host}:${remotePath}`,
        ],
        signal ? { signal } : {},
      );
    },
    async close() {
      await remote?.close();
    },
  };
}
