import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

/**
 * The confirmation gate through a real pseudo-terminal: python3's pty module drives the built CLI
 * (dist) with a small file-based provider registered as "local" (test-support/lab-driver.mjs).
 */
const here = fileURLToPath(new URL(".", import.meta.url));
const driver = join(here, "test-support/lab-driver.mjs");
const ptyRun = join(here, "test-support/pty-run.py");
const dist = join(here, "../../dist/main.js");
const run = promisify(execFile);

let cwd: string;
beforeAll(() => {
  if (!existsSync(dist)) throw new Error(`${dist} is missing: build first (npx turbo run build).`);
});
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), "labgate-pty-"));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

type ScriptStep = { expect: string; send?: string; intr?: boolean };

/** Bound on one CLI session in the pty (each pays the CLI's start-up, slow on a loaded machine). */
const PTY_SESSION_MS = 30_000;

async function inPty(
  args: string[],
  script: ScriptStep[],
  env: Record<string, string> = {},
): Promise<{ output: string; exitCode: number }> {
  const spec = JSON.stringify({ argv: ["node", driver, ...args], cwd, script, timeout: 20 });
  const { stdout } = await run("python3", [ptyRun, spec], {
    env: { ...process.env, ...env },
    timeout: PTY_SESSION_MS,
  });
  const result = JSON.parse(stdout) as { output: string; exitCode: number; timedOut: boolean };
  expect(result.timedOut, result.output).toBe(false);
  return result;
}

const PROMPT = "[q]uit: ";
const stateDir = () => join(cwd, ".labgate/labs/demo");
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

// A test may drive up to three sessions one after another: its bound is theirs added up.
describe("confirmation gate through a pseudo-terminal", { timeout: 3 * PTY_SESSION_MS }, () => {
  it("[e]xplain, [y]es, [s]kip, [n]o-stop: exit 7, only the confirmed step ran", async () => {
    const r = await inPty(
      ["lab", "up"],
      [
        { expect: PROMPT, send: "e\n" },
        { expect: PROMPT, send: "y\n" },
        { expect: PROMPT, send: "s\n" },
        { expect: PROMPT, send: "n\n" },
      ],
    );
    expect(r.exitCode).toBe(7);
    expect(r.output).toContain("Commands / API calls it makes, exactly:");
    expect(r.output).toContain("[2/3] beta: skipped at your request");
    expect(r.output).toContain('error [DECLINED]: You declined step "gamma"');
    expect(await exists(join(stateDir(), "alpha.txt"))).toBe(true);
    expect(await exists(join(stateDir(), "beta.txt"))).toBe(false);
    expect(await exists(join(stateDir(), "gamma.txt"))).toBe(false);

    // Resume: alpha is already done (no question), beta and gamma are asked; [q]uit at gamma.
    const again = await inPty(
      ["lab", "up"],
      [
        { expect: PROMPT, send: "y\n" },
        { expect: PROMPT, send: "q\n" },
      ],
    );
    expect(again.exitCode).toBe(7);
    expect(again.output).toContain("[1/3] alpha: already done: alpha.txt exists");
    expect(again.output).toContain('error [QUIT]: Quit at step "gamma"');
    expect(await exists(join(stateDir(), "beta.txt"))).toBe(true);
  });

  it("Ctrl-C during a step: exit 130, state saved as interrupted, the next run resumes and down removes everything", async () => {
    const r = await inPty(["lab", "up", "--yes"], [{ expect: "HOLDING beta", intr: true }], {
      LAB_DRIVER_HOLD: "beta",
    });
    expect(r.exitCode).toBe(130);
    expect(r.output).toContain("error [INTERRUPTED]");
    const state = JSON.parse(await readFile(join(stateDir(), "state.json"), "utf8"));
    expect(state.steps.alpha.status).toBe("done");
    expect(state.steps.beta.status).toBe("interrupted");
    // Recorded before the step waited.
    expect(state.resources.map((x: { stepId: string }) => x.stepId)).toEqual(["alpha", "beta"]);

    const resumed = await inPty(["lab", "up", "--yes"], []);
    expect(resumed.exitCode).toBe(0);
    expect(resumed.output).toContain("[1/3] alpha: already done");
    expect(resumed.output).toContain("[3/3] gamma: done and verified.");

    const down = await inPty(
      ["lab", "down"],
      [
        { expect: PROMPT, send: "y\n" },
        { expect: PROMPT, send: "y\n" },
        { expect: PROMPT, send: "y\n" },
      ],
    );
    expect(down.exitCode).toBe(0);
    expect(down.output).toContain('Undo step 1/3 "gamma"?');
    expect(down.output).toContain('lab "demo" is down: 3 step(s) undone');
    expect(await exists(stateDir())).toBe(false);
  });

  it("Ctrl-C at the prompt: exit 130, nothing run", async () => {
    const r = await inPty(["lab", "up"], [{ expect: PROMPT, intr: true }]);
    expect(r.exitCode).toBe(130);
    expect(await exists(join(stateDir(), "alpha.txt"))).toBe(false);
  });

  it("without a terminal and without --yes: refuses with exit 7 instead of hanging", async () => {
    const child = spawn("node", [driver, "lab", "up"], { cwd, stdio: ["pipe", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (c) => {
      err += String(c);
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(7);
    expect(err).toContain("error [NOT_CONFIRMED]");
    expect(err).toContain("stdin is not a terminal");
    expect(err).toContain("--yes");
    expect(await exists(join(stateDir(), "alpha.txt"))).toBe(false);
  });
});
