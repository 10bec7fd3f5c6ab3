import { access } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { ExitCode, OpenNebulaClient, pollUntil } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { parseListen, type SimOpenNebulaResult, simOpenNebulaCommand } from "./sim.js";

function io(signal: AbortSignal) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => {
    out += String(d);
  });
  stderr.on("data", (d) => {
    err += String(d);
  });
  return {
    io: { stdin: new PassThrough(), stdout, stderr, cwd: process.cwd(), signal },
    out: () => out,
    err: () => err,
  };
}

/** `fn`'s first defined answer, polled every 25 ms for 5 s. */
async function until<T>(fn: () => T | undefined): Promise<T> {
  const done = (v: T | undefined): v is T => v !== undefined;
  return (await pollUntil("Waiting for the simulator's output", async () => fn(), done, {
    timeoutMs: 5_000,
    intervalMs: 25,
  })) as T;
}

describe("labgate sim opennebula", () => {
  it("serves the simulated front-end, hands over an ONE_AUTH file, and stops cleanly on the signal", async () => {
    const controller = new AbortController();
    const t = io(controller.signal);
    const done = simOpenNebulaCommand({ listen: "127.0.0.1:0", oneVersion: "6.10.5", json: true }, t.io);
    const result = await until(() =>
      t.out().trim().endsWith("}") ? (JSON.parse(t.out()) as SimOpenNebulaResult) : undefined,
    );
    expect(result).toMatchObject({ oneVersion: "6.10.5", user: "oneadmin", lxd: null });
    expect(result.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/RPC2$/);
    const client = new OpenNebulaClient({ endpoint: result.endpoint, authFile: result.authFile });
    expect(await client.version()).toMatch(/^6\.10/);
    controller.abort();
    expect(await done).toBe(0);
    // The auth file went with it, and nothing answers any more.
    await expect(access(result.authFile)).rejects.toThrow();
    await expect(client.version()).rejects.toMatchObject({ code: "ONE_UNREACHABLE" });
  });

  it("prints for people how to point a lab at it", async () => {
    const controller = new AbortController();
    const t = io(controller.signal);
    const done = simOpenNebulaCommand({ listen: "127.0.0.1:0" }, t.io);
    await until(() => (t.out().includes("ONE_AUTH=") ? true : undefined));
    expect(t.out()).toContain("OpenNebula simulator (6.8 behaviour");
    expect(t.out()).toMatch(/export ONE_XMLRPC=http:\/\/127\.0\.0\.1:\d+\/RPC2/);
    controller.abort();
    expect(await done).toBe(0);
  });

  it("refuses a bad --listen or --one-version with exit 2 before starting anything", async () => {
    for (const listen of ["2633", "127.0.0.1", "127.0.0.1:99999", "not an address:80"]) {
      expect(() => parseListen(listen)).toThrow(/is not ADDRESS:PORT/);
    }
    expect(parseListen("[::1]:2633")).toEqual({ host: "::1", port: 2633 });
    const t = io(new AbortController().signal);
    const error = await simOpenNebulaCommand({ listen: "127.0.0.1:0", oneVersion: "6.9" }, t.io).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "SIM_VERSION_INVALID", exitCode: ExitCode.INVALID_INPUT });
    expect(t.out()).toBe("");
  });
});
