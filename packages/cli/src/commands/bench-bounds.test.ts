import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { ExitCode } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchRunCommand } from "./bench.js";

/** A loopback target that counts what reaches it: a refused run must send nothing. */
let server: Server;
let url: string;
let hits = 0;
beforeAll(async () => {
  server = createServer((_req, res) => {
    hits += 1;
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const streams = () => ({ stdout: new PassThrough(), stderr: new PassThrough() });

describe("bench run refuses what it cannot honour, before the first request", () => {
  it.each([
    [{ duration: "1000h" }, "--duration"],
    [{ timeout: "597h" }, "--timeout"],
    [{ warmup: "1000h" }, "--warmup"],
    [{ duration: "25h" }, "--duration"],
    [{ timeout: "2h" }, "--timeout"],
  ])("%j is exit 2 naming %s", async (flags, flag) => {
    const error = await benchRunCommand({ url, ...flags }, streams()).then(
      () => undefined,
      (e: { exitCode?: number; message?: string }) => e,
    );
    expect(error?.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(error?.message).toContain(flag);
    expect(hits).toBe(0);
  });

  it("--out /proc/x is refused at once (no hang in a recursive mkdir), nothing sent", async () => {
    const error = await benchRunCommand(
      { url, duration: "1s", out: "/proc/labgate-bench/run" },
      streams(),
    ).then(
      () => undefined,
      (e: { exitCode?: number; message?: string }) => e,
    );
    expect(error?.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(error?.message).toContain("/proc/labgate-bench cannot be created");
    expect(hits).toBe(0);
  });
});
