import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { LxdClient } from "../platforms/lxd/lxd-client.js";
import {
  asyncOp,
  type FakeHandler,
  operation,
  startFakeLxd,
  sync,
} from "../platforms/lxd/test-support/fake-lxd-socket.js";
import { LxdAdapter } from "./lxd.js";
import { failure } from "./test-support/bad-answers.js";
import { lxdBridgedSpec } from "./test-support/lxd-bridged-spec.js";

const HTML_LOGIN = {
  status: 200,
  raw: "<!DOCTYPE html><html><body><form>Sign in to the proxy</form></body></html>",
  contentType: "text/html; charset=utf-8",
};
const NOT_XML = { status: 200, raw: "<<<not xml" };

const spec = lxdBridgedSpec("shape-ct", "ubuntu/22.04");

const runningState = {
  status: "Running",
  status_code: 103,
  pid: 1,
  processes: 1,
  network: {
    eth0: {
      addresses: [{ family: "inet", address: "192.168.3.31", netmask: "24", scope: "global" }],
      state: "up",
    },
  },
};

/** A well-behaved LXD for one instance; `bad` replaces the answer to the requests it matches. */
function lxdWith(bad: (req: IncomingMessage) => ReturnType<FakeHandler>): FakeHandler {
  let created = false;
  return (req) => {
    const replaced = bad(req);
    if (replaced) return replaced;
    const url = req.url ?? "";
    if (req.method === "POST" && url === "/1.0/instances") {
      created = true;
      return asyncOp("3f1e7c1a-0b9e-4f0c-9c3a-6f6c1d2e9a10");
    }
    if (url.startsWith("/1.0/operations/"))
      return operation(url.split("/")[3]?.split("?")[0] ?? "op", "Success");
    if (req.method === "PUT" && url === "/1.0/instances/shape-ct/state") return asyncOp("op-start");
    if (req.method === "GET" && url === "/1.0/instances/shape-ct/state") return sync(runningState);
    if (req.method === "GET" && url === "/1.0/instances/shape-ct" && created)
      return sync({ name: "shape-ct", status: "Running", config: { "user.labgate.deploy": "shape-ct" } });
    return undefined;
  };
}

/** Requests whose path or body carry a value built from an answer that was never checked. */
const carriedUnchecked = (sent: string[]) => sent.filter((s) => /undefined|NaN|<<<|<!DOCTYPE/.test(s));

describe("LXD answers (envelopes, operations, instance state) are checked before anything is built from them", () => {
  let fake: Awaited<ReturnType<typeof startFakeLxd>> | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  async function adapterWith(bad: (req: IncomingMessage) => ReturnType<FakeHandler>) {
    await fake?.close();
    fake = await startFakeLxd(lxdWith(bad));
    return {
      adapter: new LxdAdapter({
        spec,
        client: new LxdClient({ socketPath: fake.socketPath }),
        pollIntervalMs: 5,
      }),
      fake,
    };
  }

  it("a proxy's HTML page as the create's answer stops there: no operation is waited on, nothing is started", async () => {
    const { adapter, fake } = await adapterWith((req) =>
      req.method === "POST" && req.url === "/1.0/instances" ? HTML_LOGIN : undefined,
    );
    const error = await failure(adapter.create(spec));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain("lxd: the answer to POST /1.0/instances");
    expect(error.message).toContain("non-JSON body (text/html");
    expect(error.hint).toMatch(/HTML page came back/);
    expect((error.details as { bodyStart: string }).bodyStart).toContain("Sign in to the proxy");
    expect(fake.requests.filter((r) => !r.startsWith("GET /1.0/instances/"))).toEqual([
      "POST /1.0/instances",
    ]);
  });

  it("an async answer without its operation, or JSON that is no envelope, is refused (not taken as 'created')", async () => {
    for (const json of [
      { type: "async", status: "Operation created", status_code: 100, metadata: { id: "x" } },
      { type: "async", operation: 42, metadata: {} },
      { instance: "shape-ct" },
    ]) {
      const { adapter, fake } = await adapterWith((req) =>
        req.method === "POST" && req.url === "/1.0/instances" ? { status: 202, json } : undefined,
      );
      const error = await failure(adapter.create(spec));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toMatch(/async envelope needs operation|expected a sync or async envelope/);
      expect(fake.requests.filter((r) => !r.startsWith("GET /1.0/instances/"))).toEqual([
        "POST /1.0/instances",
      ]);
    }
  });

  it("an operation poll answering '<<<not xml' or an operation without a status fails at once (no 120 s wait)", async () => {
    for (const answer of [NOT_XML, sync({ id: "3f1e7c1a", description: "Creating instance" })]) {
      const { adapter, fake } = await adapterWith((req) =>
        req.url?.startsWith("/1.0/operations/") ? answer : undefined,
      );
      const error = await failure(adapter.create(spec));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toMatch(/GET \/1\.0\/operations\/3f1e7c1a-0b9e-4f0c-9c3a-6f6c1d2e9a10\/wait/);
      expect(error.message).toMatch(
        answer === NOT_XML ? /non-JSON body \(text\/plain\)/ : /operation with a status/,
      );
      expect(fake.requests.filter((r) => r.startsWith("GET /1.0/operations/"))).toHaveLength(1);
      expect(fake.requests.some((r) => r.startsWith("PUT"))).toBe(false);
      expect(carriedUnchecked(fake.sent)).toEqual([]);
    }
  });

  it("a state poll with a NIC lacking addresses, or a status of another type, is a clear error, not a TypeError", async () => {
    let state: unknown = runningState;
    const { adapter, fake } = await adapterWith((req) =>
      req.method === "GET" && req.url === "/1.0/instances/shape-ct/state" ? sync(state) : undefined,
    );
    const ref = await adapter.create(spec);
    expect((await adapter.waitUntilRunning(ref, { timeoutMs: 5_000 })).addresses).toEqual(["192.168.3.31"]);
    for (const bad of [
      { ...runningState, network: { eth0: { state: "up" } } },
      { ...runningState, status: 103 },
      "Running",
    ]) {
      state = bad;
      const error = await failure(adapter.waitUntilRunning(ref, { timeoutMs: 5_000 }));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toContain("GET /1.0/instances/shape-ct/state");
      expect(error.message).toMatch(/expected an instance state/);
    }
    expect(carriedUnchecked(fake.sent)).toEqual([]);
  });

  it("an exec result whose output URL leaves the instance's logs, or whose exit code is text, is refused unread", async () => {
    for (const metadata of [
      { return: 0, output: { "1": "/1.0/instances/shape-ct/logs/../../../1.0/images/abc" } },
      { return: 0, output: { "1": "/1.0/images/abc" } },
      { return: "0", output: {} },
    ]) {
      await fake?.close();
      fake = await startFakeLxd((req) => {
        if (req.url === "/1.0/instances/shape-ct/exec") return asyncOp("ex1");
        if (req.url?.startsWith("/1.0/operations/ex1/wait")) return operation("ex1", "Success", { metadata });
        return undefined;
      });
      const client = new LxdClient({ socketPath: fake.socketPath });
      const error = await failure(client.exec("shape-ct", ["true"]));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toContain("POST /1.0/instances/shape-ct/exec");
      expect(fake.requests.filter((r) => !r.includes("/exec") && !r.includes("/operations/"))).toEqual([]);
    }
  });

  it("findByName refuses an instance answer without its config map instead of reading it as 'not ours'", async () => {
    const { adapter } = await adapterWith((req) =>
      req.method === "GET" && req.url === "/1.0/instances/shape-ct" ? sync("shape-ct") : undefined,
    );
    const error = await failure(adapter.findByName("shape-ct"));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.message).toContain("GET /1.0/instances/shape-ct");
  });
});
