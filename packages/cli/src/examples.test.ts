import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { loadSloFile } from "@labgate/bench";
import { checkDeployment, createAdapter, hasErrors, loadDeploySpec, loadIpPoolConfig } from "@labgate/core";
import { describePlan, getProvider, loadLabSpec } from "@labgate/lxd-lab";
import { describe, expect, it } from "vitest";

// The files in examples/ are what people copy first: each must load, validate and plan as shipped.
// Planning is pure, so nothing here connects to the addresses in them (data only).
const dir = fileURLToPath(new URL("../../../examples/", import.meta.url));
const files = await readdir(dir);
const named = (prefix: string) => files.filter((f) => f.startsWith(prefix)).map((f) => `${dir}${f}`);

describe("examples/", () => {
  it("has a lab for each infrastructure provider and a deployment spec", () => {
    expect(named("lab-").length).toBeGreaterThanOrEqual(2);
    expect(named("deploy-").length).toBeGreaterThanOrEqual(1);
  });

  it.each(named("lab-"))("%s loads and plans with every step complete", async (file) => {
    const { spec } = await loadLabSpec(file);
    const steps = describePlan(getProvider(spec.provider), spec).steps;
    expect(steps.length).toBeGreaterThan(3);
    for (const step of steps) {
      expect(step.why.length, step.id).toBeGreaterThan(40);
      expect(step.commands.length, step.id).toBeGreaterThan(0);
    }
  });

  it("lab-lxd-cloud-init.yaml plans the cloud-init variant: cloud-init.* keys at create, then the bench", async () => {
    const { spec } = await loadLabSpec(`${dir}lab-lxd-cloud-init.yaml`);
    const steps = describePlan(getProvider(spec.provider), spec).steps;
    const launch = steps.find((s) => s.id === "launch-app1")?.commands.join("\n") ?? "";
    expect(launch).toContain('"cloud-init.network-config"');
    expect(launch).toContain('"cloud-init.user-data"');
    expect(launch).not.toContain("/etc/labgate/boot.d");
    expect(steps.at(-1)?.id).toBe("bench");
    expect(steps.at(-1)?.title).toContain("for 5 s, 10 connections");
  });

  it.each(named("deploy-"))("%s passes the platform rules", async (file) => {
    const { spec, findings } = await loadDeploySpec(file);
    expect(findings).toEqual([]);
    if (!spec?.platform) throw new Error(`${file} names no platform`);
    const adapter = createAdapter(spec.platform, {
      spec,
      env: { PROXMOX_TOKEN_ID: "labgate@pve!example", PROXMOX_TOKEN_SECRET: "example" },
    });
    const all = checkDeployment(spec, adapter);
    expect(hasErrors(all), JSON.stringify(all)).toBe(false);
  });

  it.each(named("ip-pools-"))("%s is a valid IP pool config", async (file) => {
    const config = await loadIpPoolConfig(file);
    expect(config.networks.length).toBeGreaterThan(0);
  });

  it("slos.yaml parses into SLOs", async () => {
    const slos = await loadSloFile(`${dir}slos.yaml`);
    expect(slos.map((s) => s.expression)).toContain("p99<250ms");
  });
});
