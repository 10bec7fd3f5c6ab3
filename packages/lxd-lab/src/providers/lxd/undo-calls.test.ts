import { describe, expect, it } from "vitest";
import { planSteps } from "../../engine/plan-view.js";
import { defaultLabSpec } from "../../spec/default-lab-spec.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { localProvider } from "../local/local-provider.js";
import { createLxdProvider } from "./lxd-provider.js";

describe("undo gates show the calls undo makes", () => {
  it("LXD: every step that creates something names its undo calls; checks have none", () => {
    const spec = parseLabSpec(
      {
        name: "undodemo",
        provider: "lxd",
        network: { cidr: "10.20.0.0/24" },
        providerOptions: { socketPath: "/unused" },
      },
      "test",
    );
    const steps = planSteps(createLxdProvider(), spec).map((s) => s.description);
    const undo = Object.fromEntries(steps.map((s) => [s.id, s.undoCalls?.map((c) => c.display)]));
    expect(undo["create-network"]).toEqual([
      expect.stringMatching(/^DELETE \/1\.0\/networks\/\S+ .*user\.labgate\.lab=undodemo/),
    ]);
    expect(undo["launch-app1"]).toEqual([
      expect.stringMatching(
        /^PUT \/1\.0\/instances\/undodemo-app1\/state \{"action":"stop","force":true,"timeout":30\}/,
      ),
      "DELETE /1.0/instances/undodemo-app1",
    ]);
    expect(undo["deploy-lb"]?.join("\n")).toContain("stop the HAProxy service");
    expect(undo["expose-lb"]?.[0]).toContain("remove device labgate-expose");
    expect(undo["allocate-addresses"]?.[0]).toContain("undodemo-app1, undodemo-app2, undodemo-lb");
    for (const s of steps.filter((x) => x.readOnly)) expect(s.undoCalls).toBeUndefined();
  });

  it("local: the apps and HAProxy name the pid they stop and the files they remove", () => {
    const steps = planSteps(localProvider, defaultLabSpec()).map((s) => s.description);
    const undo = Object.fromEntries(steps.map((s) => [s.id, s.undoCalls?.map((c) => c.display)]));
    expect(undo["start-app1"]).toEqual([
      // The process group: the app and what it started (core stopProcessNode).
      expect.stringContaining("kill -TERM -$(cat <state>/run/app1.pid)"),
      "rm -f <state>/run/app1.pid",
    ]);
    expect(undo["start-haproxy"]).toContain("rm -f <state>/run/haproxy.cfg <state>/run/haproxy.sock");
    expect(undo["allocate-address"]).toEqual(["release the lab's address in <state>/ip-pool.state.json"]);
    expect(undo["preflight"]).toBeUndefined();
  });
});
