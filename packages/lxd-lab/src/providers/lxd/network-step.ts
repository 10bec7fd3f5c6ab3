import { configDrift, type LxdConfig, type LxdNetworkPost, PreconditionError } from "@labgate/core";
import type { StepCall, StepDescription } from "../../engine/plan-step.js";
import type { LabStep } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import { lxdLogCommand } from "../../host-prep/lxd-daemon.js";
import { explainBridgeCreateError } from "./bridge-create-error.js";
import { LAB_MARKER_KEY, type LxdLabOptions } from "./lxd-lab-options.js";
import type { LxdClientFactory } from "./lxd-runtime.js";
import { lxdUndoCalls } from "./undo-calls.js";

/** The bridge's config: the spec's subnet with the gateway on the host, no NAT, no DHCP, no IPv6. */
export function bridgeConfig(o: LxdLabOptions): LxdConfig {
  return {
    "ipv4.address": `${o.gateway}/${o.subnet.prefix}`,
    "ipv4.nat": "false",
    "ipv4.dhcp": "false",
    "ipv6.address": "none",
    [LAB_MARKER_KEY]: o.lab,
  };
}

/** POST /1.0/networks for the lab bridge: the body sent and the call shown, from one value. */
export function networkCreate(o: LxdLabOptions): { body: LxdNetworkPost; calls: StepCall[] } {
  const config = bridgeConfig(o);
  const body: LxdNetworkPost = {
    name: o.bridge,
    type: "bridge",
    description: `labgate lab ${o.lab}`,
    config,
  };
  return {
    body,
    calls: [
      { kind: "http", display: `POST /1.0/networks ${JSON.stringify(body)}` },
      {
        display: `# same as: lxc network create ${o.bridge} ${Object.entries(config)
          .map(([k, v]) => `${k}=${v}`)
          .join(" ")}`,
      },
    ],
  };
}

/** What check saw of the bridge: absent, someone else's, or this lab's with the keys that differ. */
export interface NetworkFacts {
  network?: { ours: boolean; drift: string[] };
}

export function networkStep(o: LxdLabOptions, clientFor: LxdClientFactory): LabStep<NetworkFacts> {
  const create = networkCreate(o);
  const config = create.body.config ?? {};
  const id = "create-network";
  const inspect = async () => {
    const network = await clientFor(o).getNetwork(o.bridge);
    return { network, drift: network ? configDrift(config, network.config) : [] };
  };
  const description: StepDescription = {
    id,
    title: `Create the lab bridge ${o.bridge} (${o.subnet.cidr})`,
    why:
      `The containers talk over their own LXD bridge ${o.bridge}. The host gets the gateway address ${o.gateway} on it, ` +
      "so labgate (and you) can reach every container directly. Like an on-prem lab network it has no DHCP and no NAT: " +
      "each container gets a static address from the lab's IP pool in the next step.",
    calls: create.calls,
    undoCalls: lxdUndoCalls(o, id) ?? [],
    diagnostics: [`lxc network show ${o.bridge}`, `ip addr show ${o.bridge}`, lxdLogCommand()],
  };
  return {
    description,
    actions: {
      async check() {
        const { network, drift } = await inspect();
        if (!network) return { done: false, detail: `no network ${o.bridge}`, facts: {} };
        const ours = network.config[LAB_MARKER_KEY] === o.lab;
        const facts = { network: { ours, drift } };
        if (!ours) return { done: false, detail: `${o.bridge} exists but is not this lab's`, facts };
        if (drift.length) return { done: false, detail: `${o.bridge} differs in ${drift.join(", ")}`, facts };
        return { done: true, detail: `bridge ${o.bridge} with ${config["ipv4.address"]}`, facts };
      },
      async apply(ctx, found) {
        const { network } = found.facts;
        if (network && !network.ours) {
          throw new PreconditionError(
            "LXD_BRIDGE_TAKEN",
            `LXD network ${o.bridge} exists and is not part of lab "${o.lab}".`,
            {
              hint: `Set "network": {"name": "<another name>"} in the lab spec, or \`lxc network delete ${o.bridge}\` if it is a leftover.`,
            },
          );
        }
        await ctx.record({
          kind: "network",
          id: o.bridge,
          stepId: id,
          data: { cidr: o.subnet.cidr, gateway: o.gateway },
        });
        const client = clientFor(o);
        if (!network) {
          await client.createNetwork(create.body).catch((error: unknown) => {
            throw explainBridgeCreateError(error, o.bridge);
          });
        } else if (network.drift.length) {
          ctx.log(`network ${o.bridge}: updating ${network.drift.join(", ")}`);
          await client.patchNetwork(o.bridge, {
            config: Object.fromEntries(network.drift.map((k) => [k, config[k] ?? ""])),
          });
        }
      },
      async verify() {
        const { network, drift } = await inspect();
        if (!network || drift.length) {
          throw new StepFailedError(
            id,
            `Network ${o.bridge} is ${network ? `different from the spec in ${drift.join(", ")}` : "missing"}.`,
            {
              hint: `lxc network show ${o.bridge}`,
            },
          );
        }
      },
      async undo(ctx) {
        const client = clientFor(o);
        const network = await client.getNetwork(o.bridge);
        if (network && network.config[LAB_MARKER_KEY] === o.lab) {
          await client.deleteNetwork(o.bridge);
        } else if (network) {
          ctx.log(`network ${o.bridge} is not this lab's: left in place`);
        }
        await ctx.forget("network", o.bridge);
      },
    },
  };
}
