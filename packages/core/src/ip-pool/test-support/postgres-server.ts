import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = "/usr/lib/postgresql/15/bin";

export interface TestPostgres {
  /** postgres:// URL over the server's unix socket (no TCP port is opened). */
  url: string;
  /** SIGKILL-safe stop: fast shutdown, then the data directory is removed. */
  stop(): Promise<void>;
}

/**
 * A throwaway PostgreSQL 15 (Debian's postgresql package) in a temp dir, listening only on a unix
 * socket in that dir. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
 * The socket's port number is arbitrary: the directory is private to this server.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = await mkdtemp(join(tmpdir(), "labgate-pg-"));
  const asRoot = process.getuid?.() === 0;
  // setpriv execs in place (no helper process in between), so a signal reaches postgres itself.
  const runAs = (cmd: string, args: string[]): [string, string[]] =>
    asRoot
      ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--clear-groups", "--", cmd, ...args]]
      : [cmd, args];
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    await chown(dir, uid, gid);
  }
  await chmod(dir, 0o700);
  const data = join(dir, "data");
  const [initCmd, initArgs] = runAs(join(BIN, "initdb"), [
    "-D",
    data,
    "-U",
    "labgate",
    "-A",
    "trust",
    "--no-sync",
    "-E",
    "UTF8",
  ]);
  execFileSync(initCmd, initArgs, { stdio: "ignore" });
  const port = 5432;
  const [cmd, args] = runAs(join(BIN, "postgres"), [
    "-D",
    data,
    "-k",
    dir,
    "-p",
    String(port),
    "-c",
    "listen_addresses=",
    "-c",
    "fsync=off",
    "-c",
    "max_connections=60",
  ]);
  const server: ChildProcess = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  server.stderr?.on("data", (c) => (log += c));
  const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()));
  const url = `postgres://labgate@localhost/postgres?host=${encodeURIComponent(dir)}&port=${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      execFileSync(join(BIN, "pg_isready"), ["-h", dir, "-p", String(port)], { stdio: "ignore" });
      break;
    } catch {
      if (server.exitCode !== null || Date.now() > deadline) {
        await rm(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    stop: async () => {
      if (server.exitCode === null) {
        // SIGINT is postgres's "fast shutdown": it ends every session and exits.
        server.kill("SIGINT");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
