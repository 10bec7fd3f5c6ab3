import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ExitCode } from "../../exit-codes.js";
import { configDrift, deviceDrift } from "./config-diff.js";
import { LxdClient } from "./lxd-client.js";
import {
  LxdApiError,
  LxdNotFoundError,
  LxdOperationFailedError,
  LxdTimeoutError,
  LxdUnreachableError,
} from "./lxd-errors.js";
import { lxdSocketCandidates } from "./socket-path.js";
import { asyncOp, operation, startFakeLxd, sync } from "./test-support/fake-lxd-socket.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

async function fake(handler: Parameters<typeof startFakeLxd>[0]) {
  const server = await startFakeLxd(handler);
  closers.push(server.close);
  return { server, client: new LxdClient({ socketPath: server.socketPath }) };
}

describe("socket discovery", () => {
  it("uses LXD_SOCKET or $LXD_DIR alone when set, else the snap then the Debian package path", () => {
    expect(lxdSocketCandidates(undefined, {})).toEqual([
      "/var/snap/lxd/common/lxd/unix.socket",
      "/var/lib/lxd/unix.socket",
    ]);
    expect(lxdSocketCandidates(undefined, { LXD_SOCKET: "/x.sock", LXD_DIR: "/d" })).toEqual(["/x.sock"]);
    expect(lxdSocketCandidates(undefined, { LXD_DIR: "/d" })).toEqual(["/d/unix.socket"]);
    expect(lxdSocketCandidates("/only.sock", { LXD_SOCKET: "/x.sock" })).toEqual(["/only.sock"]);
  });

  it("no socket → LXD_UNREACHABLE (exit 4) naming every path and how to start LXD", async () => {
    const client = new LxdClient({ socketPath: "/nonexistent/labgate/unix.socket" });
    const error = await client.server().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LxdUnreachableError);
    expect((error as LxdUnreachableError).exitCode).toBe(ExitCode.PRECONDITION);
    expect((error as LxdUnreachableError).message).toContain("/nonexistent/labgate/unix.socket");
    expect((error as LxdUnreachableError).hint).toContain("lxd waitready");
  });

  it("a socket nobody listens on → LXD_UNREACHABLE, not a raw ECONNREFUSED", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labgate-dead-sock-"));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, "unix.socket");
    // A socket file with no listener, as a crashed daemon leaves behind: bound, never listened on.
    execFileSync("python3", [
      "-c",
      "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      path,
    ]);
    const error = await new LxdClient({ socketPath: path }).server().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LxdUnreachableError);
    expect((error as Error).message).toMatch(/not answering/);
  });
});

describe("response mapping", () => {
  it("404 → LXD_NOT_FOUND; get* helpers turn it into undefined", async () => {
    const { client } = await fake(() => undefined);
    expect(await client.getInstance("nope")).toBeUndefined();
    expect(await client.getNetwork("nope")).toBeUndefined();
    expect(await client.resolveImageAlias("labgate/debian-bookworm")).toBeUndefined();
    await expect(client.deleteNetwork("nope")).rejects.toBeInstanceOf(LxdNotFoundError);
  });

  it("aliases with a slash are sent as one escaped path segment", async () => {
    const { client, server } = await fake((req) =>
      req.url === "/1.0/images/aliases/labgate%2Fdebian-bookworm"
        ? sync({ name: "labgate/debian-bookworm", target: "abc" })
        : undefined,
    );
    expect((await client.getImageAlias("labgate/debian-bookworm"))?.target).toBe("abc");
    expect(server.requests).toEqual(["GET /1.0/images/aliases/labgate%2Fdebian-bookworm"]);
  });

  it("400 keeps LXD's own message in LXD_API_ERROR", async () => {
    const { client } = await fake(() => ({
      status: 400,
      json: { type: "error", error: 'Invalid value for "ipv4.nat"', error_code: 400 },
    }));
    const error = await client
      .createNetwork({ name: "lgx", config: { "ipv4.nat": "maybe" } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LxdApiError);
    expect((error as LxdApiError).status).toBe(400);
    expect((error as Error).message).toContain('Invalid value for "ipv4.nat"');
    expect((error as Error).message).toContain("POST /1.0/networks");
  });

  it("project is appended to every request", async () => {
    const server = await startFakeLxd(() => sync([]));
    closers.push(server.close);
    await new LxdClient({ socketPath: server.socketPath, project: "lab" }).listInstances();
    expect(server.requests).toEqual(["GET /1.0/instances?recursion=1&project=lab"]);
  });
});

describe("operations", () => {
  it("waits on the operation and returns on Success", async () => {
    const { client, server } = await fake((req) => {
      if (req.method === "POST" && req.url === "/1.0/instances") return asyncOp("op1");
      if (req.url?.startsWith("/1.0/operations/op1/wait")) return operation("op1", "Success");
      return undefined;
    });
    await client.createInstance({ name: "a", source: { type: "image", alias: "x" } });
    expect(server.requests[1]).toMatch(/^GET \/1\.0\/operations\/op1\/wait\?timeout=\d+$/);
  });

  it("a failed operation → LXD_OPERATION_FAILED with LXD's reason", async () => {
    const { client } = await fake((req) => {
      if (req.method === "PUT") return asyncOp("op2");
      if (req.url?.startsWith("/1.0/operations/op2/wait"))
        return operation("op2", "Failure", { err: 'Failed to start device "eth0"' });
      return undefined;
    });
    const error = await client.setInstanceState("a", "start").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LxdOperationFailedError);
    expect((error as Error).message).toContain('Failed to start device "eth0"');
    expect((error as LxdOperationFailedError).code).toBe("LXD_OPERATION_FAILED");
  });

  it("an operation still running at the deadline → LXD_TIMEOUT (exit 8)", async () => {
    const { client } = await fake((req) => {
      if (req.method === "DELETE") return asyncOp("op3");
      if (req.url?.startsWith("/1.0/operations/op3/wait")) return operation("op3", "Running");
      return undefined;
    });
    const error = await client.deleteInstance("a", { timeoutMs: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LxdTimeoutError);
    expect((error as LxdTimeoutError).exitCode).toBe(ExitCode.TIMEOUT);
  });

  it("exec reads the recorded output and maps LXD's 'Command not found' failure to exit 127", async () => {
    let call = 0;
    const { client } = await fake((req) => {
      if (req.url === "/1.0/instances/a/exec") return asyncOp(`ex${++call}`);
      if (req.url?.startsWith("/1.0/operations/ex1/wait")) {
        return operation("ex1", "Success", {
          metadata: {
            return: 3,
            output: {
              "1": "/1.0/instances/a/logs/exec_1.stdout",
              "2": "/1.0/instances/a/logs/exec_1.stderr",
            },
          },
        });
      }
      if (req.url?.startsWith("/1.0/operations/ex2/wait"))
        return operation("ex2", "Failure", { err: "Command not found" });
      if (req.url === "/1.0/instances/a/logs/exec_1.stdout")
        return req.method === "GET" ? { status: 200, raw: "out\n" } : sync({});
      if (req.url === "/1.0/instances/a/logs/exec_1.stderr")
        return req.method === "GET" ? { status: 200, raw: "err\n" } : sync({});
      return undefined;
    });
    expect(await client.exec("a", ["sh", "-c", "exit 3"])).toEqual({
      exitCode: 3,
      stdout: "out\n",
      stderr: "err\n",
    });
    expect((await client.exec("a", ["nope"])).exitCode).toBe(127);
  });

  it("pushFile sends the bytes with owner and octal mode headers", async () => {
    let seen: { headers: Record<string, unknown>; body: string } | undefined;
    const { client } = await fake((req, body) => {
      seen = { headers: req.headers, body: body.toString() };
      return sync({});
    });
    await client.pushFile("a", "/etc/x.sh", "echo hi\n", { mode: 0o755 });
    expect(seen?.body).toBe("echo hi\n");
    expect(seen?.headers["x-lxd-mode"]).toBe("0755");
    expect(seen?.headers["x-lxd-type"]).toBe("file");
  });
});

describe("config drift", () => {
  it("ignores volatile.* and image.* keys LXD writes itself", () => {
    const desired = { "user.labgate.lab": "demo", "ipv4.nat": "false" };
    expect(
      configDrift(desired, { ...desired, "volatile.eth0.hwaddr": "00:16:3e:00:00:01", "image.os": "debian" }),
    ).toEqual([]);
    expect(configDrift(desired, { "user.labgate.lab": "demo" })).toEqual(["ipv4.nat"]);
    expect(configDrift({ ...desired, "volatile.x": "1" }, desired)).toEqual([]);
  });

  it("a device differs when any key differs or is extra", () => {
    const want = { eth0: { type: "nic", network: "lg-demo", name: "eth0" } };
    expect(deviceDrift(want, { eth0: { type: "nic", network: "lg-demo", name: "eth0" } })).toEqual([]);
    expect(deviceDrift(want, { eth0: { type: "nic", network: "other", name: "eth0" } })).toEqual(["eth0"]);
    expect(deviceDrift(want, {})).toEqual(["eth0"]);
  });
});
