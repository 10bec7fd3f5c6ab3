import { ExitCode } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { describePlan, planSteps } from "../../engine/plan-view.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { localApps, localOptions } from "./local-lab.js";
import { localProvider } from "./local-provider.js";
import { missingNetnsCapabilities } from "./netns-link.js";
import { appNetns, netnsName, vethNames } from "./netns-plan.js";

const netnsLab = (extra: Record<string, unknown> = {}, name = "demo") =>
  parseLabSpec({ name, providerOptions: { netns: true, netnsRange: "10.251.4.0/24", ...extra } }, "lab.json");

describe("netns names and addresses", () => {
  it("namespace names stay within what `ip netns` takes; long ones keep their start and differ by a hash", () => {
    expect(netnsName("demo", "app1")).toBe("lg-demo-app1");
    const lab = `a${"b".repeat(61)}c`;
    const one = netnsName(lab, `x${"y".repeat(30)}1`);
    const two = netnsName(lab, `x${"y".repeat(30)}2`);
    expect(one.length).toBeLessThanOrEqual(63);
    expect(one).toMatch(/^lg-abbb/);
    expect(one).not.toBe(two);
    expect(one).not.toContain("/");
  });

  it("veth names fit IFNAMSIZ (15) for 64 apps and differ between labs", () => {
    for (const i of [0, 9, 63]) {
      const v = vethNames("a-very-long-lab-name-that-would-never-fit-an-interface", i);
      expect(v.host.length).toBeLessThanOrEqual(15);
      expect(v.app.length).toBeLessThanOrEqual(15);
      expect(v.host).not.toBe(v.app);
    }
    expect(vethNames("one", 0).host).not.toBe(vethNames("two", 0).host);
  });

  it("app i gets the i-th /30 of the range: host end .1, app end .2", () => {
    const spec = netnsLab();
    const [a, b] = localApps(spec).map((app, i) => appNetns(spec, app, i));
    expect(a).toMatchObject({ hostAddress: "10.251.4.1", appAddress: "10.251.4.2", link: "10.251.4.0/30" });
    expect(b).toMatchObject({ hostAddress: "10.251.4.5", appAddress: "10.251.4.6", link: "10.251.4.4/30" });
  });
});

describe("providerOptions.netns in the plan", () => {
  it("shows the exact ip commands, starts each app through `ip netns exec`, and points HAProxy at the veth addresses", () => {
    const plan = describePlan(localProvider, netnsLab());
    const ids = plan.steps.map((s) => s.id);
    expect(ids.slice(0, 6)).toEqual([
      "preflight",
      "allocate-address",
      "netns-app1",
      "netns-app2",
      "start-app1",
      "start-app2",
    ]);
    const v = vethNames("demo", 1);
    const step = plan.steps.find((s) => s.id === "netns-app2");
    expect(step?.commands).toEqual([
      "ip netns add lg-demo-app2",
      `ip link add ${v.host} type veth peer name ${v.app} netns lg-demo-app2`,
      `ip addr add 10.251.4.5/30 dev ${v.host}`,
      `ip link set ${v.host} up`,
      `ip -n lg-demo-app2 addr add 10.251.4.6/30 dev ${v.app}`,
      `ip -n lg-demo-app2 link set ${v.app} up`,
      "ip -n lg-demo-app2 link set lo up",
    ]);
    const undo = planSteps(localProvider, netnsLab())
      .find((s) => s.description.id === "netns-app2")
      ?.description.undoCalls?.map((c) => c.display);
    expect(undo?.join("\n")).toMatch(
      new RegExp(`ip link del ${v.host} .*only if labgate made it[\\s\\S]*ip netns del lg-demo-app2`),
    );
    expect(plan.steps.find((s) => s.id === "start-app2")?.commands[0]).toMatch(
      /^ip netns exec lg-demo-app2 python3 \S+ --name app2 --host 10\.251\.4\.6 --port 8001 /,
    );
    expect(plan.steps.find((s) => s.id === "start-haproxy")?.commands[0]).toContain(
      "backend app1 10.251.4.2:8000, app2 10.251.4.6:8001",
    );
    expect(plan.steps[0]?.commands.join("\n")).toContain("CapEff");
  });

  it("without it, nothing about namespaces is planned (the quick start needs no root)", () => {
    const ids = describePlan(localProvider, parseLabSpec({}, "lab.json")).steps.map((s) => s.id);
    expect(ids.some((id) => id.startsWith("netns-"))).toBe(false);
    expect(localOptions(parseLabSpec({}, "lab.json"))).toMatchObject({
      netns: false,
      netnsRange: "10.251.0.0/24",
    });
  });

  it.each([
    [{ netns: "yes" }, "providerOptions.netns", "is not true or false"],
    [{ netnsRange: "8.8.8.0/24" }, "providerOptions.netnsRange", "is not inside a private range"],
    [{ netnsRange: "127.0.0.0/24" }, "providerOptions.netnsRange", "is not inside a private range"],
    [{ netnsRange: "10.0.0.0/30" }, "providerOptions.netnsRange", "has no room for 2 /30 links"],
    [{ netnsRange: "10.0.0.1/24" }, "providerOptions.netnsRange", "is not an IPv4 network"],
    [{ netnsRange: "10.0.0.0/24; rm -rf /" }, "providerOptions.netnsRange", "is not an IPv4 network"],
  ])("refuses %j (exit 2, naming the field)", (options, field, problem) => {
    let error: unknown;
    try {
      localOptions(netnsLab(options));
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ exitCode: ExitCode.INVALID_INPUT });
    expect((error as Error).message).toContain(field);
    expect((error as Error).message).toContain(problem);
  });
});

describe("capabilities for namespaces", () => {
  it("reads CAP_NET_ADMIN and CAP_SYS_ADMIN from CapEff", () => {
    expect(missingNetnsCapabilities("Name:\tx\nCapEff:\t000001ffffffffff\n")).toEqual([]);
    expect(missingNetnsCapabilities("CapEff:\t0000000000000000\n")).toEqual([
      "CAP_NET_ADMIN",
      "CAP_SYS_ADMIN",
    ]);
    expect(missingNetnsCapabilities("CapEff:\t0000000000001000\n")).toEqual(["CAP_SYS_ADMIN"]);
    expect(missingNetnsCapabilities("CapEff:\t0000000000200000\n")).toEqual(["CAP_NET_ADMIN"]);
  });
});
