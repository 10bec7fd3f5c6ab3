import type { LxdClient } from "@labgate/core";
import { expect } from "vitest";
import { autoYesGate } from "../../../engine/gate.js";
import { labVerify } from "../../../engine/lab-status.js";
import { labUp } from "../../../engine/run-lab.js";
import type { LabProvider } from "../../../engine/step.js";
import { fetchHaproxyLiveView } from "../../../haproxy/live-config.js";
import type { LabSpec } from "../../../spec/lab-spec.js";
import { instanceAddress } from "../instance-step.js";
import { lxdLabOptions } from "../lxd-lab-options.js";

/**
 * The drift scenario on a real LXD lab: `balance roundrobin` → `balance first` in the
 * LB container's /etc/haproxy/haproxy.cfg, HAProxy reloaded the way that container runs it
 * (systemd: `systemctl reload haproxy`; otherwise a new daemon with `-sf` the old pid). Then
 * `lab up --yes` must name the drift, redeploy the LB and pass round robin again.
 */
export async function expectDriftRepaired(t: {
  client: LxdClient;
  provider: LabProvider;
  spec: LabSpec;
  stateDir: string;
  lab: string;
  log: (m: string) => void;
  logs: string[];
}): Promise<void> {
  const lb = `${t.lab}-lb`;
  const o = lxdLabOptions(t.spec);
  const ip = (await instanceAddress(t.client, lb)).ips[0];
  const algo = async () =>
    (
      await fetchHaproxyLiveView(`http://${ip}:${o.statsPort}/stats;csv`).catch(() => undefined)
    )?.backends.find((b) => b.servers.some((s) => s.name === `${t.lab}-app1`))?.algo;
  expect(await algo()).toBe("roundrobin");
  const edit = await t.client.exec(lb, [
    "sh",
    "-c",
    "sed -i 's/balance roundrobin/balance first/' /etc/haproxy/haproxy.cfg && " +
      "if [ -d /run/systemd/system ]; then systemctl reload haproxy; " +
      'else haproxy -D -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid -sf "$(cat /run/haproxy.pid)"; fi',
  ]);
  expect(edit.exitCode, edit.stderr).toBe(0);
  await expect.poll(algo, { timeout: 20_000, interval: 300 }).toBe("first");
  const broken = await labVerify({
    provider: t.provider,
    spec: t.spec,
    stateDir: t.stateDir,
    verify: { requests: 10 },
  });
  expect(broken.passed).toBe(false);

  const from = t.logs.length;
  const up = await labUp({
    provider: t.provider,
    spec: t.spec,
    stateDir: t.stateDir,
    gate: autoYesGate(),
    log: t.log,
  });
  const out = t.logs.slice(from).join("\n");
  expect(up.steps.find((s) => s.id === "deploy-lb")?.outcome, out).toBe("applied");
  expect(out).toMatch(
    /deploy-lb: drift found: .*\/etc\/haproxy\/haproxy\.cfg in \S+ differs from the rendered config .*`balance first` \(want `balance roundrobin`\)/,
  );
  expect(out).toContain('the running HAProxy balances with "first" (want "roundrobin")');
  expect(await algo()).toBe("roundrobin");
  const fixed = await labVerify({
    provider: t.provider,
    spec: t.spec,
    stateDir: t.stateDir,
    verify: { requests: 20 },
  });
  expect(fixed.passed, fixed.summary).toBe(true);
}
