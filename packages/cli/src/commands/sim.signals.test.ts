import { spawn } from "node:child_process";
import { access } from "node:fs/promises";
import { OpenNebulaClient } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { ensureBuiltCli } from "../test-support/built-cli.js";
import type { SimOpenNebulaResult } from "./sim.js";

/** The compiled `labgate sim opennebula` as a user runs it: serves until a signal, then cleans up and exits 0. */
async function startSim(): Promise<{
  result: SimOpenNebulaResult;
  stop: (signal: NodeJS.Signals) => Promise<{ code: number | null; stderr: string }>;
}> {
  const bin = ensureBuiltCli();
  const child = spawn(process.execPath, [bin, "sim", "opennebula", "--listen", "127.0.0.1:0", "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += String(d);
  });
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  for (let i = 0; !stdout.trim().endsWith("}"); i++) {
    if (i > 600 || child.exitCode !== null) throw new Error(`the simulator did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    result: JSON.parse(stdout) as SimOpenNebulaResult,
    async stop(signal) {
      child.kill(signal);
      return { code: await exited, stderr };
    },
  };
}

describe("labgate sim opennebula as a process", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops cleanly on ${signal}: exit 0, port closed, ONE_AUTH file removed`, async () => {
      const { result, stop } = await startSim();
      const client = new OpenNebulaClient({ endpoint: result.endpoint, authFile: result.authFile });
      expect(await client.version()).toMatch(/^6\.8/);
      const { code, stderr } = await stop(signal);
      expect(code).toBe(0);
      expect(stderr).toContain("stopping the simulator");
      await expect(access(result.authFile)).rejects.toThrow();
      await expect(client.version()).rejects.toMatchObject({ code: "ONE_UNREACHABLE" });
    }, 180_000);
  }
});
