import { spawn } from "node:child_process";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isProcessAlive } from "@labgate/core";
import { StepFailedError } from "../../errors.js";
import type { StepCall } from "../plan-step.js";
import type { LabProvider, LabStep, StepContext } from "../step.js";

/**
 * A small but real provider for engine tests: its steps create real directories, files and a real
 * HTTP server process on loopback, check for them, verify them and remove them.
 */
export interface FakeProviderOptions {
  /** "apply:<id>" / "undo:<id>" / "check:<id>" in the order they happened. */
  events: string[];
  /** Steps whose apply fails (like a command exiting 1 with output on stderr). */
  failApply?: Set<string>;
  /** start-server waits after recording its process until the signal aborts (simulates a long wait). */
  holdServer?: { onHeld: () => void };
  /** Steps whose verify fails even though their check says done (drift a re-apply does not repair). */
  brokenVerify?: Set<string>;
  /** Adds a read-only first step "check-ready" that fails while `failing` is true. */
  readOnlyCheck?: { failing: boolean };
}

const command = (display: string): StepCall => ({ display, kind: "command" });

// The port file appears whole (write + rename): a reader never sees it empty.
const SERVER = `const http=require("http");const fs=require("fs");
const s=http.createServer((q,r)=>{r.writeHead(200,{"x-served-by":"fake"});r.end("ok")});
s.listen(0,"127.0.0.1",()=>{fs.writeFileSync(process.argv[1]+".tmp",String(s.address().port));fs.renameSync(process.argv[1]+".tmp",process.argv[1])});
process.on("SIGTERM",()=>process.exit(0));`;

export function fakeProvider(options: FakeProviderOptions): LabProvider {
  const { events } = options;
  const work = (ctx: StepContext) => join(ctx.stateDir, "work");
  const failIfAsked = (id: string) => {
    if (options.failApply?.has(id)) {
      throw Object.assign(new Error(`Command failed with exit code 1: touch ${id}`), {
        stderr: `touch: cannot touch '${id}': Permission denied`,
      });
    }
  };

  const makeDir: LabStep = {
    description: {
      id: "make-dir",
      title: "Create the work directory",
      why: "Everything this lab writes lives in one directory so that tearing it down is a single removal.",
      calls: ["mkdir -p <state>/work"].map(command),
      diagnostics: ["ls -ld <state>/work"],
    },
    actions: {
      async check(ctx) {
        events.push("check:make-dir");
        return (await exists(work(ctx))) ? { done: true, detail: "work directory exists" } : { done: false };
      },
      async apply(ctx) {
        events.push("apply:make-dir");
        failIfAsked("make-dir");
        await mkdir(work(ctx), { recursive: true });
      },
      async verify(ctx) {
        if (!(await exists(work(ctx)))) throw new StepFailedError("make-dir", "work directory missing");
      },
      async undo(ctx) {
        events.push("undo:make-dir");
        await rm(work(ctx), { recursive: true, force: true });
      },
    },
  };

  const writeConfig: LabStep = {
    description: {
      id: "write-config",
      title: "Write the config file",
      why: "The server reads its ports from a config file.",
      calls: ["write <state>/work/config.json"].map(command),
    },
    actions: {
      async check(ctx) {
        events.push("check:write-config");
        const text = await readFile(join(work(ctx), "config.json"), "utf8").catch(() => "");
        return text === configText(ctx) ? { done: true, detail: "config.json is current" } : { done: false };
      },
      async apply(ctx) {
        events.push("apply:write-config");
        failIfAsked("write-config");
        const path = join(work(ctx), "config.json");
        await ctx.record({ kind: "file", id: path, stepId: "write-config" });
        await writeFile(path, configText(ctx));
      },
      async verify(ctx) {
        JSON.parse(await readFile(join(work(ctx), "config.json"), "utf8"));
      },
      async undo(ctx) {
        events.push("undo:write-config");
        for (const r of ctx.resources("file").filter((x) => x.stepId === "write-config")) {
          await rm(r.id, { force: true });
          await ctx.forget(r.kind, r.id);
        }
      },
    },
  };

  const startServer: LabStep = {
    description: {
      id: "start-server",
      title: "Start the HTTP server",
      why: "A real process answering on loopback, like an app instance.",
      calls: ["node -e <server> <state>/work/port"].map(command),
      undoCalls: ["kill -TERM <pid>", "rm -f <state>/work/port"].map(command),
      diagnostics: ["cat <state>/work/port", "curl -i http://127.0.0.1:<port>/"],
    },
    actions: {
      async check(ctx) {
        events.push("check:start-server");
        const found = await serverHealth(ctx);
        return found ? { done: true, detail: found } : { done: false };
      },
      async apply(ctx) {
        events.push("apply:start-server");
        const portFile = join(work(ctx), "port");
        // A server that does not answer is replaced: stop it, drop its record and port file first.
        await stopRecordedServers(ctx);
        await rm(portFile, { force: true });
        const child = spawn(process.execPath, ["-e", SERVER, portFile], { detached: true, stdio: "ignore" });
        child.unref();
        // Recorded before waiting on it: an interrupt now still leaves a record to undo.
        await ctx.record({
          kind: "process",
          id: String(child.pid),
          stepId: "start-server",
          data: { portFile },
        });
        if (options.holdServer) {
          options.holdServer.onHeld();
          await new Promise<void>((_, reject) => {
            ctx.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
          });
        }
        await waitFor(async () => exists(portFile), ctx.signal);
      },
      async verify(ctx) {
        if (!(await serverHealth(ctx)))
          throw new StepFailedError("start-server", "the server does not answer");
      },
      async undo(ctx) {
        events.push("undo:start-server");
        await stopRecordedServers(ctx);
        await rm(join(work(ctx), "port"), { force: true });
      },
    },
  };

  const writeMarker: LabStep = {
    description: {
      id: "write-marker",
      title: "Write the marker",
      why: "The last step: marks the lab as complete.",
      calls: ["touch <state>/work/marker"].map(command),
      diagnostics: ["ls -l <state>/work", "df -h <state>"],
    },
    actions: {
      async check(ctx) {
        events.push("check:write-marker");
        return (await exists(join(work(ctx), "marker"))) ? { done: true } : { done: false };
      },
      async apply(ctx) {
        events.push("apply:write-marker");
        failIfAsked("write-marker");
        await writeFile(join(work(ctx), "marker"), "ok");
      },
      async verify() {
        if (options.brokenVerify?.has("write-marker"))
          throw new StepFailedError("write-marker", "the marker says something else now");
      },
      async undo(ctx) {
        events.push("undo:write-marker");
        await rm(join(work(ctx), "marker"), { force: true });
      },
    },
  };

  const checkReady: LabStep = {
    description: {
      id: "check-ready",
      title: "Check the machine is ready",
      why: "A read-only check before anything is built.",
      calls: ["test -w <state>"].map(command),
      readOnly: true,
    },
    actions: {
      async check() {
        events.push("check:check-ready");
        return { done: false };
      },
      async apply() {
        events.push("apply:check-ready");
        if (options.readOnlyCheck?.failing)
          throw new StepFailedError("check-ready", "the machine is not ready");
      },
      async verify() {},
      async undo() {
        events.push("undo:check-ready");
      },
    },
  };

  return {
    name: "fake",
    plan: () => [
      ...(options.readOnlyCheck ? [checkReady] : []),
      makeDir,
      writeConfig,
      startServer,
      writeMarker,
    ],
    async status(ctx) {
      return Promise.all(
        ctx.resources().map(async (r) => {
          if (r.kind !== "process")
            return {
              kind: r.kind,
              id: r.id,
              health: (await exists(r.id)) ? "healthy" : "unhealthy",
            } as const;
          const detail = await serverHealth(ctx);
          return {
            kind: r.kind,
            id: r.id,
            health: detail ? "healthy" : "unhealthy",
            detail: detail ?? `pid ${r.id} not answering`,
          } as const;
        }),
      );
    },
    async verify(ctx, opts) {
      const n = opts.requests ?? 3;
      const seen: string[] = [];
      const port = await readFile(join(work(ctx), "port"), "utf8").catch(() => "");
      for (let i = 0; i < n && port; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        seen.push(res?.headers.get("x-served-by") ?? "none");
      }
      const passed = seen.length === n && seen.every((s) => s === "fake");
      return {
        passed,
        summary: passed ? `${n}/${n} served by fake` : `served: ${seen.join(",") || "nothing"}`,
        lines: seen,
      };
    },
  };
}

function configText(ctx: StepContext): string {
  return JSON.stringify({ ports: ctx.spec.apps.ports });
}

/** Stops every server the state records and forgets it, waiting until each is gone: one still starting could write its port file later. */
async function stopRecordedServers(ctx: StepContext): Promise<void> {
  for (const r of ctx.resources("process")) {
    const pid = Number(r.id);
    if (isProcessAlive(pid)) process.kill(pid, "SIGTERM");
    await waitFor(async () => !isProcessAlive(pid), ctx.signal);
    await ctx.forget(r.kind, r.id);
  }
}

async function serverHealth(ctx: StepContext): Promise<string | undefined> {
  const proc = ctx.resources("process")[0];
  if (!proc || !isProcessAlive(Number(proc.id))) return undefined;
  const port = await readFile(join(ctx.stateDir, "work", "port"), "utf8").catch(() => "");
  if (!port) return undefined;
  const res = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
  await res?.text();
  return res?.status === 200 ? `pid ${proc.id} answers on 127.0.0.1:${port}` : undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function waitFor(test: () => Promise<boolean>, signal: AbortSignal, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (signal.aborted) throw new Error("aborted");
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
