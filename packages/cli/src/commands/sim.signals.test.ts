import { access } from "node:fs/promises";
import { OpenNebulaClient } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { spawnBuiltCli } from "../test-support/spawned-cli.js";
import type { SimOpenNebulaResult } from "./sim.js";

/** The compiled `labgate sim opennebula` as a user runs it: serves until a signal, then cleans up and exits 0. */
async function startSim(): Promise<{
  result: SimOpenNebulaResult;
  stop: (signal: NodeJS.Signals) => Promise<{ code: number | null; stderr: string }>;
}> {
  const sim = spawnBuiltCli(["sim", "opennebula", "--listen", "127.0.0.1:0", "--json"]);
  const { child, exited } = sim;
  for (let i = 0; !sim.stdout.trim().endsWith("}"); i++) {
    if (i > 600 || child.exitCode !== null) throw new Error(`the simulator did not start: ${sim.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    result: JSON.parse(sim.stdout) as SimOpenNebulaResult,
    async stop(signal) {
      child.kill(signal);
      return { code: await exited, stderr: sim.stderr };
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
