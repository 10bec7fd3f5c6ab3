import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HaproxyRuntimeError } from "../errors.js";
import { waitFor } from "../providers/local/local-process.js";
import { haproxyRuntimeCommand, haproxyServerState, setHaproxyServerState } from "./haproxy-runtime.js";

// A real HAProxy with only a stats socket in a temp dir (no frontend, no health checks: it sends no traffic).
describe("HAProxy runtime API errors (real haproxy)", () => {
  let dir: string;
  let socket: string;
  let haproxy: ResultPromise;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lgt-haproxy-runtime-"));
    socket = join(dir, "admin.sock");
    const config = join(dir, "haproxy.cfg");
    await writeFile(
      config,
      [
        "global",
        `  stats socket ${socket} level admin`,
        "defaults",
        "  mode http",
        "  timeout connect 1s",
        "  timeout client 1s",
        "  timeout server 1s",
        "backend be",
        "  server s1 127.0.0.1:9",
        "",
      ].join("\n"),
    );
    haproxy = execa("haproxy", ["-db", "-f", config], { reject: false });
    const up = await waitFor(
      async () =>
        access(socket).then(
          () => true,
          () => false,
        ),
      10_000,
      undefined,
      50,
    );
    if (!up) throw new Error(`haproxy did not open ${socket}: ${String((await haproxy).stderr)}`);
  });
  afterAll(async () => {
    haproxy?.kill("SIGTERM");
    await haproxy;
    await rm(dir, { recursive: true, force: true });
  });

  it("sets a server's admin state and reads it back", async () => {
    await setHaproxyServerState(socket, "be", "s1", "drain");
    expect((await haproxyServerState(socket, "be", "s1"))?.adminState).toBe(0x08);
    await setHaproxyServerState(socket, "be", "s1", "ready");
    expect((await haproxyServerState(socket, "be", "s1"))?.adminState).toBe(0);
    expect(await haproxyServerState(socket, "be", "nope")).toBeUndefined();
  });

  it("HAProxy's refusal is HAPROXY_RUNTIME_REFUSED with its own words", async () => {
    const refused = setHaproxyServerState(socket, "be", "nope", "maint");
    await expect(refused).rejects.toBeInstanceOf(HaproxyRuntimeError);
    await expect(refused).rejects.toMatchObject({
      code: "HAPROXY_RUNTIME_REFUSED",
      exitCode: 5,
      message: expect.stringMatching(/HAProxy refused 'set server be\/nope state maint': No such server/),
      hint: expect.stringContaining("show servers state"),
    });
  });

  it("an answer without the state header is HAPROXY_RUNTIME_BAD_ANSWER", async () => {
    await expect(haproxyServerState(socket, "nobackend", "s1")).rejects.toMatchObject({
      code: "HAPROXY_RUNTIME_BAD_ANSWER",
      message: expect.stringContaining("'show servers state nobackend'"),
    });
  });

  it("a command with ';' or a newline is refused before it is sent", async () => {
    for (const bad of ["show info; shutdown sessions", "show info\nshutdown frontend x"]) {
      await expect(haproxyRuntimeCommand(socket, bad)).rejects.toMatchObject({
        code: "HAPROXY_RUNTIME_UNSAFE_COMMAND",
        exitCode: 2,
      });
    }
    // Refused, not sent: the server still answers normally.
    expect(await haproxyRuntimeCommand(socket, "show info")).toMatch(/^Name: HAProxy/m);
  });

  it("a socket nobody listens on is HAPROXY_RUNTIME_UNREACHABLE with the errno as cause", async () => {
    const missing = join(dir, "missing.sock");
    await expect(haproxyRuntimeCommand(missing, "show info")).rejects.toMatchObject({
      code: "HAPROXY_RUNTIME_UNREACHABLE",
      details: { socketPath: missing, errno: "ENOENT" },
      cause: { code: "ENOENT" },
    });
  });
});
