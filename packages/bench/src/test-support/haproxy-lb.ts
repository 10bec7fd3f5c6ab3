import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "../../../core/src/test-support/free-ports.js";
import { startTarget, type Target } from "./target.js";

/**
 * The real HAProxy on loopback in front of two target processes (app1, app2, each naming itself in
 * X-Served-By), with the health-check timing a test asks for: a lab's LB and apps, without a lab.
 */
export interface LoopbackHaproxy {
  url: string;
  /** SIGKILL the backend's process: connections to its port are refused until `restart`. */
  kill(name: string): Promise<void>;
  /** Starts the backend again on the port it had. */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface HaproxyTiming {
  /** e.g. "1s", "200ms": the check interval. */
  inter: string;
  fall: number;
  rise: number;
}

const NAMES = ["app1", "app2"] as const;

export async function startLoopbackHaproxy(dir: string, timing: HaproxyTiming): Promise<LoopbackHaproxy> {
  const backends = new Map<string, { target: Target; port: number }>();
  let haproxy: ChildProcess | undefined;
  const stop = async () => {
    if (haproxy && haproxy.exitCode === null && haproxy.signalCode === null) {
      const exited = new Promise((resolve) => haproxy!.once("exit", resolve));
      haproxy.kill("SIGTERM");
      await exited;
    }
    await Promise.all([...backends.values()].map((b) => b.target.stop()));
  };
  try {
    for (const name of NAMES) {
      const target = await startTarget({ backends: [name] });
      backends.set(name, { target, port: Number(new URL(target.url).port) });
    }
    const port = await freePort();
    const cfg = join(dir, "haproxy.cfg");
    await writeFile(
      cfg,
      [
        "global",
        "  maxconn 2000",
        "defaults",
        "  mode http",
        "  timeout connect 500ms",
        "  timeout client 10s",
        "  timeout server 10s",
        "  timeout check 500ms",
        // One retry on the same server, no redispatch: a refused connection becomes a 503 the bench sees.
        "  retries 1",
        "frontend fe",
        `  bind 127.0.0.1:${port}`,
        "  default_backend be",
        "backend be",
        "  balance roundrobin",
        `  default-server inter ${timing.inter} fall ${timing.fall} rise ${timing.rise}`,
        ...NAMES.map((n) => `  server ${n} 127.0.0.1:${backends.get(n)!.port} check`),
        "",
      ].join("\n"),
    );
    haproxy = spawn("haproxy", ["-db", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    haproxy.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const url = `http://127.0.0.1:${port}/`;
    // Ready when both backends answer through it (their first checks have passed).
    const seen = new Set<string>();
    const deadline = Date.now() + 15_000;
    while (seen.size < NAMES.length) {
      if (haproxy.exitCode !== null) throw new Error(`HAProxy exited: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`HAProxy did not serve both backends: ${stderr}`);
      const servedBy = await fetch(url).then(
        (r) => (r.ok ? r.headers.get("x-served-by") : null),
        () => null,
      );
      if (servedBy) seen.add(servedBy);
      else await new Promise((r) => setTimeout(r, 50));
    }
    return {
      url,
      async kill(name) {
        await backends.get(name)!.target.stop();
      },
      async restart(name) {
        const b = backends.get(name)!;
        b.target = await startTarget({ backends: [name], port: b.port });
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
