import { describe, expect, it } from "vitest";
import { describePlan } from "../../engine/plan-view.js";
import type { ResourceRecord } from "../../engine/step.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { NETWORK_HOOK } from "./instance-network.js";
import { createLxdProvider } from "./lxd-provider.js";

const provider = createLxdProvider();

function spec(extra: Record<string, unknown>) {
  return parseLabSpec(
    { name: "truth", provider: "lxd", network: { cidr: "10.20.0.0/24" }, ...extra },
    "lab.yaml",
  );
}

/** What the allocate and deploy steps record (the same shapes they write into state.json). */
const known: ResourceRecord[] = [
  ...["app1", "app2", "lb"].map((name, i) => ({
    kind: "address",
    id: `truth-${name}`,
    stepId: "allocate-addresses",
    data: { ip: `10.20.0.${30 + i}`, prefix: 24, gateway: "10.20.0.1", dns: [], network: "lg-truth" },
  })),
  ...["app1", "app2", "lb"].map((name, i) => ({
    kind: "container",
    id: `truth-${name}`,
    stepId: `launch-${name}`,
    data: { role: name === "lb" ? "lb" : "app", ip: `10.20.0.${30 + i}`, payloadHash: `abcdef012345678${i}` },
  })),
];

describe("LXD plans show the truth", () => {
  it("cloud-init variant: the launch step shows the cloud-init.* keys it sets, not the boot.d push/exec", () => {
    for (const s of [
      spec({ image: "labgate/debian-bookworm-cloud" }),
      spec({ image: "labgate/debian-bookworm", providerOptions: { payload: "cloud-init" } }),
    ]) {
      const launch = describePlan(provider, s).steps.find((x) => x.id === "launch-app1");
      const text = launch?.commands.join("\n") ?? "";
      expect(text).toContain('"cloud-init.network-config"');
      expect(text).toContain('"cloud-init.user-data"');
      expect(text).toContain("runcmd: sh /usr/local/sbin/labgate-app-setup.sh");
      expect(text).not.toContain(NETWORK_HOOK);
      // The one exec asks the image for cloud-init (apply pushes the network script only when it has none).
      expect(text.match(/\/exec .*/g)).toEqual([
        expect.stringContaining('"command":["sh","-c","command -v cloud-init"]'),
      ]);
      const deploy = describePlan(provider, s).steps.find((x) => x.id === "deploy-app1")?.commands;
      // First deploy: ask the image for cloud-init, wait for it; the push calls follow only as the fallback.
      expect(deploy?.[0]).toContain('"command":["sh","-c","command -v cloud-init"]');
      expect(deploy?.[1]).toContain("cloud-init status --wait");
    }
  });

  it("push variant: the launch step shows the network script it pushes and runs", () => {
    const launch = describePlan(
      provider,
      spec({ image: "labgate/debian-bookworm", providerOptions: { payload: "push" } }),
    ).steps.find((x) => x.id === "launch-lb");
    const text = launch?.commands.join("\n") ?? "";
    expect(text).toContain(`files?path=${NETWORK_HOOK}`);
    expect(text).not.toContain("cloud-init.user-data");
  });

  it("once addresses and hashes are recorded, no placeholder is left in any step", () => {
    for (const s of [
      spec({ image: "labgate/debian-bookworm-cloud" }),
      spec({ image: "labgate/debian-bookworm", providerOptions: { payload: "push" } }),
    ]) {
      const before = describePlan(provider, s)
        .steps.flatMap((x) => x.commands)
        .join("\n");
      expect(before).toContain("<address>/<prefix>");
      expect(before).toContain('"<hash>"');
      const plan = describePlan(provider, s, known);
      const text = plan.steps.flatMap((x) => x.commands).join("\n");
      expect(text).not.toMatch(/<address>|<prefix>|<hash>|<truth-[a-z0-9]+ address>|\.\.\./);
      const launch = plan.steps.find((x) => x.id === "launch-app2")?.commands.join("\n");
      expect(launch).toContain("10.20.0.31/24");
      const deployLb = plan.steps.find((x) => x.id === "deploy-lb")?.commands.join("\n");
      expect(deployLb).toContain("server truth-app1 10.20.0.30:8000");
      expect(deployLb).toContain('"user.labgate.payload-hash":"abcdef0123456782"');
      expect(plan.steps.find((x) => x.id === "allocate-addresses")?.commands.join("\n")).toContain(
        "# allocated: 10.20.0.32/24",
      );
    }
  });
});
