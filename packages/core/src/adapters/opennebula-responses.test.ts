import { afterEach, describe, expect, it } from "vitest";
import { OpenNebulaClient } from "../platforms/opennebula/client.js";
import { OneSimulator } from "../platforms/opennebula/sim/one-simulator.js";
import {
  decodeMethodCall,
  encodeMethodResponse,
  XmlRpcDouble,
  type XmlRpcValue,
} from "../platforms/opennebula/xmlrpc.js";
import { OpenNebulaAdapter } from "./opennebula.js";
import { failure, NOT_XML } from "./test-support/bad-answers.js";
import { type SimReply, startSim } from "./test-support/http-sim.js";
import { oneLabVmSpec, seedOneLab } from "./test-support/one-lab-seed.js";
import { specStaticNetwork } from "./test-support/static-network.js";

const HTML_LOGIN: SimReply = {
  status: 200,
  text: "<!DOCTYPE html><html><body><form>Sign in to Sunstone</form></body></html>",
  headers: { "content-type": "text/html; charset=utf-8" },
};
const xmlRpc = (value: XmlRpcValue | XmlRpcDouble): SimReply => ({
  status: 200,
  // A double result (e.g. 1.5) must go out as <double>: encodeMethodResponse writes numbers as int or double.
  text:
    value instanceof XmlRpcDouble
      ? encodeMethodResponse([true, "@@", 0]).replace(
          "<value><string>@@</string></value>",
          `<value><double>${value.value}</double></value>`,
        )
      : encodeMethodResponse(value),
});

/**
 * A proxy on loopback in front of the OpenNebula simulator: every call reaches oned (so its effect is real),
 * and `replace` may swap the answer the client gets, as a misconfigured proxy or another server would.
 */
async function proxiedSimulator(replace: (method: string) => SimReply | undefined) {
  const sim = new OneSimulator({ hosts: [{ name: "lxd1", vmMad: "lxd", state: "MONITORED" }] });
  const endpoint = await sim.start();
  const methods: string[] = [];
  const proxy = await startSim(async (req) => {
    const { method } = decodeMethodCall(req.raw);
    methods.push(method);
    const res = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "text/xml" },
      body: req.raw,
    });
    const real: SimReply = { status: res.status, text: await res.text() };
    return replace(method) ?? real;
  });
  const setup = new OpenNebulaClient({ endpoint, session: "oneadmin:opennebula" });
  const template = await seedOneLab(setup);
  const client = new OpenNebulaClient({ endpoint: `${proxy.url}/RPC2`, session: "oneadmin:opennebula" });
  const spec = oneLabVmSpec("shape-one", template, specStaticNetwork("192.168.3.33"));
  return {
    adapter: new OpenNebulaAdapter({ spec, client, pollIntervalMs: 5 }),
    spec,
    sim,
    methods,
    /** Raw calls that reached oned, for values built from an unchecked answer. */
    unchecked: () => sim.requests.filter((r) => /NaN|undefined|Infinity/.test(r)),
    close: async () => {
      await proxy.close();
      await sim.stop();
    },
  };
}

describe("OpenNebula answers (the [ok, id|body, code] array, ids, VM XML) are checked before use", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  async function setUp(replace: (method: string) => SimReply | undefined) {
    await close?.();
    const env = await proxiedSimulator(replace);
    close = env.close;
    return env;
  }

  it("a Sunstone/proxy HTML page as one.template.instantiate's answer is named as such; no VM call follows", async () => {
    const { adapter, spec, methods, unchecked } = await setUp((m) =>
      m === "one.template.instantiate" ? HTML_LOGIN : undefined,
    );
    const error = await failure(adapter.create(spec));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain("one.template.instantiate");
    expect(error.message).toMatch(/not XML-RPC/);
    expect(error.hint).toMatch(/HTML page came back/);
    expect((error.details as { bodyStart: string; contentType: string }).bodyStart).toContain(
      "Sign in to Sunstone",
    );
    expect(methods.slice(methods.indexOf("one.template.instantiate") + 1)).toEqual([]);
    expect(unchecked()).toEqual([]);
  });

  it("an instantiate result that is not an ID (a string, -1, a fraction, a short array) is refused", async () => {
    for (const reply of [
      xmlRpc([true, "42", 0]),
      xmlRpc([true, -1, 0]),
      xmlRpc(new XmlRpcDouble(1.5)),
      xmlRpc([true]),
    ]) {
      const { adapter, spec, methods } = await setUp((m) =>
        m === "one.template.instantiate" ? reply : undefined,
      );
      const error = await failure(adapter.create(spec));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toMatch(/one\.template\.instantiate.*(expected an ID|expected the array)/);
      expect(methods.slice(methods.indexOf("one.template.instantiate") + 1)).toEqual([]);
    }
  });

  it("a VM poll answering '<<<not xml', or VM XML without its STATE, fails clearly (no TypeError, no wait to timeout)", async () => {
    let broken: SimReply | undefined;
    const { adapter, spec, unchecked } = await setUp((m) => (m === "one.vm.info" ? broken : undefined));
    const ref = await adapter.create(spec);
    for (const reply of [
      NOT_XML,
      xmlRpc([true, "<VM><ID>0</ID><NAME>shape-one</NAME></VM>", 0]),
      xmlRpc([true, 7, 0]),
    ]) {
      broken = reply;
      const error = await failure(adapter.waitUntilRunning(ref, { timeoutMs: 5_000, intervalMs: 5 }));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toContain("one.vm.info");
    }
    broken = undefined;
    expect((await adapter.waitUntilRunning(ref, { timeoutMs: 10_000, intervalMs: 5 })).state).toBe("running");
    expect(unchecked()).toEqual([]);
  });
});
