import { IpPool, type IpPoolConfig, labOwner } from "@labgate/core";
import type { StepCall } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { localOptions, localPaths } from "./local-lab.js";
import { releaseAddressCalls } from "./undo-calls.js";

export const ADDRESS_STEP_ID = "allocate-address";

/**
 * The lab's loopback "network": one pool holding exactly the bind address. The gateway must be
 * another address of the subnet (the pool never hands a gateway out); on loopback it is never used.
 */
export function loopbackPoolConfig(spec: LabSpec, address: string): IpPoolConfig {
  const cidr = loopbackCidr(spec);
  const gateway =
    spec.network.gateway && spec.network.gateway !== address
      ? spec.network.gateway
      : address === "127.255.255.254"
        ? "127.255.255.253"
        : "127.255.255.254";
  return {
    networks: [
      {
        name: "loopback",
        cidr,
        gateway,
        dns: spec.network.dns ?? [],
        dhcp: false,
        pools: [{ start: address, end: address }],
      },
    ],
  };
}

/** The spec's network when it is a loopback one, else 127.0.0.0/8: the local lab never leaves loopback. */
export function loopbackCidr(spec: LabSpec): string {
  return spec.network.cidr?.startsWith("127.") ? spec.network.cidr : "127.0.0.0/8";
}

export function addressOwner(spec: LabSpec): string {
  return labOwner(spec.name);
}

function pool(ctx: StepContext): IpPool {
  const { bindAddress } = localOptions(ctx.spec);
  return new IpPool({
    config: loopbackPoolConfig(ctx.spec, bindAddress),
    statePath: localPaths.ipPoolState(ctx.stateDir),
  });
}

/** The allocation the step makes: the same values build the planned call and the call into the pool. */
export function addressAllocation(spec: LabSpec): { cidr: string; owner: string; call: StepCall } {
  const { bindAddress } = localOptions(spec);
  const cidr = loopbackCidr(spec);
  const owner = addressOwner(spec);
  return {
    cidr,
    owner,
    // An API call into @labgate/core, not a shell command: the lab's own ledger, not config/ip_pools.json.
    call: {
      display: `IpPool.allocate("${cidr}", "${owner}")   # @labgate/core; network "loopback", pool ${bindAddress}-${bindAddress}, ledger <state>/ip-pool.state.json`,
      kind: "sdk",
    },
  };
}

/** Takes the lab's address from the core IP pool (the same code path the on-prem providers use). */
export function allocateAddressStep(spec: LabSpec): LabStep<undefined> {
  const { bindAddress } = localOptions(spec);
  const allocation = addressAllocation(spec);
  return {
    description: {
      id: ADDRESS_STEP_ID,
      title: `Take the lab's address ${bindAddress} from the loopback IP pool`,
      why:
        "On real lab networks there is no DHCP, so every instance gets a static address from labgate's IP pool, " +
        "recorded so two labs never collide. The local lab uses the same pool logic on a loopback network " +
        `(${allocation.cidr}) whose pool holds just ${bindAddress}: the apps and HAProxy share that address and differ by port.`,
      calls: [allocation.call],
      undoCalls: releaseAddressCalls,
      diagnostics: [`cat <state dir>/ip-pool.state.json`, `labgate lab status`],
      // Skipping the address only warns at every start; nothing earlier is an input.
      needs: [],
    },
    actions: {
      async check(ctx) {
        const rec = ctx.resources("address")[0];
        if (!rec) return { done: false, detail: "no address allocated yet", facts: undefined };
        const held = (await pool(ctx).list()).some(
          (a) => a.ip === rec.id && a.owner === addressOwner(ctx.spec),
        );
        return held
          ? { done: true, detail: `${rec.id} held by ${addressOwner(ctx.spec)}`, facts: undefined }
          : { done: false, detail: `${rec.id} is no longer in the pool ledger`, facts: undefined };
      },
      async apply(ctx) {
        const allocated = await pool(ctx).allocate(allocation.cidr, allocation.owner);
        await ctx.record({
          kind: "address",
          id: allocated.ip,
          stepId: ADDRESS_STEP_ID,
          data: {
            owner: allocated.owner,
            network: allocated.network,
            prefix: allocated.prefix,
            source: allocated.source,
          },
        });
        ctx.log(
          `address ${allocated.ip}/${allocated.prefix} allocated to ${allocated.owner} (${allocated.source})`,
        );
      },
      async verify(ctx) {
        const rec = ctx.resources("address")[0];
        const held = rec && (await pool(ctx).list()).some((a) => a.ip === rec.id);
        if (!held) {
          throw new StepFailedError(
            ADDRESS_STEP_ID,
            "The allocated address is not recorded in the IP pool ledger.",
            {
              hint: `Inspect ${localPaths.ipPoolState(ctx.stateDir)}; run \`labgate lab down\` then \`labgate lab up\`.`,
            },
          );
        }
      },
      async undo(ctx) {
        await pool(ctx).release({ owner: addressOwner(ctx.spec) });
        for (const rec of ctx.resources("address")) await ctx.forget("address", rec.id);
      },
    },
  };
}
