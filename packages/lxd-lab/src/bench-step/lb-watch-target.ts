import { LabStateStore } from "../engine/lab-state.js";
import type { LabProvider, StepContext } from "../engine/step.js";
import { createStepContext } from "../engine/step-context.js";
import { labAddress, statsCsvUrl } from "../providers/local/local-lab.js";
import { lxdLabOptions } from "../providers/lxd/lxd-lab-options.js";
import { lxdAddressRecord } from "../providers/lxd/lxd-records.js";
import type { LabSpec } from "../spec/lab-spec.js";

/** Where a lab's HAProxy shows its servers' states, and what it calls the app a fault names. */
export interface LbWatchTarget {
  statsUrl: string;
  serverOf: (target: string) => string;
}

/**
 * From the lab's state: the local lab's HAProxy on the lab address (servers named like the apps);
 * an LXD lab's on the LB container's recorded address (servers named after the instances, e.g.
 * `<lab>-app2`; a corrupt address record is STATE_CORRUPT). None for OpenNebula (the LB VM's stats port is not forwarded to this host) or
 * when no address is recorded: the bench then judges detection from its own figures only.
 */
export function lbWatchTarget(ctx: StepContext, providerName: string): LbWatchTarget | undefined {
  if (providerName === "local")
    return { statsUrl: statsCsvUrl(labAddress(ctx), ctx.spec), serverOf: (t) => t };
  if (providerName === "lxd") {
    const o = lxdLabOptions(ctx.spec);
    const record = ctx.resources("address").find((r) => r.id === o.lb.instance);
    if (!record) return undefined;
    // Read as the LXD provider reads it: a record with an unusable address is refused, not skipped.
    const { ip } = lxdAddressRecord(record);
    return {
      statsUrl: `http://${ip}:${o.statsPort}/stats;csv`,
      serverOf: (t) => o.apps.find((a) => a.name === t)?.instance ?? t,
    };
  }
  return undefined;
}

/** The same for a built lab named by its spec and state dir (`bench run --lab`). */
export async function loadLbWatchTarget(lab: {
  spec: LabSpec;
  provider: LabProvider;
  stateDir: string;
}): Promise<LbWatchTarget | undefined> {
  const store = new LabStateStore(lab.stateDir);
  if ((await store.load()) === undefined) return undefined;
  const ctx = createStepContext(store, lab.spec, lab.provider, () => {}, new AbortController().signal);
  return lbWatchTarget(ctx, lab.provider.name);
}
