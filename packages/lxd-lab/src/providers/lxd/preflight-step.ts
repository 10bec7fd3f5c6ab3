import { networkInterfaces } from "node:os";
import {
  type LxdClient,
  LxdUnreachableError,
  type PreconditionCode,
  PreconditionError,
  parseIpv4,
  subnetOf,
  subnetsOverlap,
} from "@labgate/core";
import type { StepCall } from "../../engine/plan-step.js";
import type { LabStep } from "../../engine/step.js";
import { canListen, conflictingOwners, describePortOwners, findPortOwners } from "../local/port-owner.js";
import { exposeDevice } from "./expose-step.js";
import { resolveImageRef } from "./image-source.js";
import { DEFAULT_LXD_IMAGE, EXPOSE_DEVICE, LAB_MARKER_KEY, type LxdLabOptions } from "./lxd-lab-options.js";
import type { LxdClientFactory } from "./lxd-runtime.js";

export interface PreflightProblem {
  code: PreconditionCode;
  problem: string;
  /** The command (or edit) that fixes it. */
  fix: string;
}

export interface PreflightReport {
  problems: PreflightProblem[];
  facts: string[];
}

/**
 * Read-only checks before anything is created: LXD answers, the storage pool exists, the bridge
 * name is free or already this lab's, the subnet collides with no other LXD network, no instance
 * of another owner has one of the lab's names, the image is there. Each problem names its fix.
 */
export async function lxdPreflight(client: LxdClient, o: LxdLabOptions): Promise<PreflightReport> {
  const problems: PreflightProblem[] = [];
  const facts: string[] = [];
  try {
    const server = await client.server();
    facts.push(`LXD ${server.environment?.server_version ?? "?"} on ${client.transport.socketPath()}`);
    if (server.environment?.firewall === "xtables") facts.push(XTABLES_WARNING);
  } catch (error) {
    if (!(error instanceof LxdUnreachableError)) throw error;
    problems.push({ code: "LXD_UNREACHABLE", problem: error.message, fix: error.hint ?? "start LXD" });
    return { problems, facts };
  }

  const pool = await client.getStoragePool(o.storagePool);
  if (pool) facts.push(`storage pool ${o.storagePool} (${pool.driver})`);
  else {
    problems.push({
      code: "LXD_STORAGE_POOL_MISSING",
      problem: `LXD has no storage pool "${o.storagePool}".`,
      fix: `lxc storage create ${o.storagePool} dir   (or set providerOptions.storagePool to one listed by \`lxc storage list\`)`,
    });
  }

  const networks = await client.listNetworks();
  const bridge = networks.find((n) => n.name === o.bridge);
  if (bridge && !bridge.managed) {
    problems.push({
      code: "LXD_BRIDGE_TAKEN",
      problem: `The host already has an interface named ${o.bridge} that LXD does not manage.`,
      fix: `set "network": {"name": "<another name>"} in the lab spec`,
    });
  } else if (bridge && bridge.config[LAB_MARKER_KEY] !== o.lab) {
    const owner = bridge.config[LAB_MARKER_KEY];
    problems.push({
      code: "LXD_BRIDGE_TAKEN",
      problem: `LXD network ${o.bridge} exists and belongs to ${owner ? `lab "${owner}"` : "something other than labgate"}.`,
      fix: `set "network": {"name": "<another name>"} in the lab spec, or remove it if it is a leftover: lxc network delete ${o.bridge}`,
    });
  } else if (bridge) facts.push(`network ${o.bridge} exists and is this lab's`);
  else facts.push(`network name ${o.bridge} is free`);

  for (const other of networks) {
    if (other.name === o.bridge || !other.managed) continue;
    const address = other.config["ipv4.address"];
    if (!address || address === "none" || address === "auto") continue;
    const [ip, prefix] = address.split("/");
    try {
      if (subnetsOverlap(subnetOf(parseIpv4(ip ?? ""), Number(prefix)), o.subnet)) {
        const owner = other.config[LAB_MARKER_KEY];
        problems.push({
          code: "LXD_SUBNET_IN_USE",
          problem: `LXD network ${other.name}${owner ? ` (of labgate lab "${owner}")` : " (not made by labgate)"} already uses ${address}, which overlaps the lab subnet ${o.subnet.cidr}.`,
          fix: owner
            ? `choose another "network": {"cidr": ...} in the lab spec, or take lab "${owner}" down first (labgate lab down with its spec)`
            : `choose another "network": {"cidr": ...} in the lab spec (e.g. a free 10.20.x.0/24)`,
        });
      }
    } catch {
      // an address LXD accepted but we cannot parse cannot collide with an IPv4 /24 we can
    }
  }

  problems.push(...hostSubnetClashes(o, new Set(networks.filter((n) => n.managed).map((n) => n.name))));

  const instances = await client.listInstances();
  const exposeProblem = await exposePortProblem(
    o,
    instances.find((i) => i.name === o.lb.instance),
  );
  if (exposeProblem) problems.push(exposeProblem);
  else facts.push(`expose address ${o.expose.address}:${o.expose.port} is free or this lab's`);
  for (const plan of [...o.apps, o.lb]) {
    const found = instances.find((i) => i.name === plan.instance);
    if (found && found.config[LAB_MARKER_KEY] !== o.lab) {
      problems.push({
        code: "LXD_INSTANCE_TAKEN",
        problem: `An LXD instance named ${plan.instance} exists and is not part of lab "${o.lab}".`,
        fix: `rename the lab ("name" in the lab spec), or remove the instance if it is a leftover: lxc delete --force ${plan.instance}`,
      });
    }
  }

  const image = resolveImageRef(o.image);
  if (image.where === "remote") {
    facts.push(`image ${o.image} will be downloaded by LXD from ${image.server} (needs internet)`);
  } else {
    const found = /^[0-9a-f]{12,64}$/.test(o.image)
      ? await client.getImage(o.image)
      : await client.resolveImageAlias(o.image);
    if (found) facts.push(`image ${o.image} (${found.fingerprint.slice(0, 12)})`);
    else {
      problems.push({
        code: "LXD_IMAGE_MISSING",
        problem: `LXD has no image "${o.image}".`,
        fix:
          o.image === DEFAULT_LXD_IMAGE
            ? "labgate image build --yes   (builds a small Debian image offline with debootstrap and imports it)"
            : `lxc image import <metadata.tar.gz> <rootfs.tar.gz> --alias ${o.image}   (or labgate image build --alias ${o.image})`,
      });
    }
  }
  return { problems, facts };
}

/**
 * The host port the proxy device will listen on must be free, or already held by this lab's own device
 * (a rerun). Checked on this machine: LXD's unix socket is local and the device binds on the host.
 */
async function exposePortProblem(
  o: LxdLabOptions,
  lb:
    | {
        config: Record<string, string | undefined>;
        devices?: Record<string, Record<string, string> | undefined>;
      }
    | undefined,
): Promise<PreflightProblem | undefined> {
  const { address, port } = o.expose;
  if (await canListen(address, port)) return undefined;
  const device = lb?.devices?.[EXPOSE_DEVICE];
  if (lb?.config[LAB_MARKER_KEY] === o.lab && device?.["listen"] === exposeDevice(o).listen) return undefined;
  const owners = conflictingOwners(await findPortOwners(port), address);
  return {
    code: "LXD_EXPOSE_PORT_TAKEN",
    problem: `The expose address ${address}:${port} is already in use by ${describePortOwners(owners)}.`,
    fix: `stop that process, or set "lb": {"expose": {"address": "${address}", "port": <a free port>}} in the lab spec (see \`ss -ltnp 'sport = :${port}'\`)`,
  };
}

/** Host interfaces (not LXD networks, reported above) whose IPv4 subnet overlaps the lab's: routing would clash. */
function hostSubnetClashes(o: LxdLabOptions, lxdNetworks: Set<string>): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (name === o.bridge || lxdNetworks.has(name)) continue;
    for (const a of addresses ?? []) {
      if (a.family !== "IPv4" || a.internal || !a.cidr) continue;
      const [ip, prefix] = a.cidr.split("/");
      try {
        if (!subnetsOverlap(subnetOf(parseIpv4(ip ?? ""), Number(prefix)), o.subnet)) continue;
      } catch {
        continue;
      }
      problems.push({
        code: "LXD_SUBNET_IN_USE",
        problem: `Host interface ${name} has ${a.cidr}, which overlaps the lab subnet ${o.subnet.cidr}.`,
        fix: `choose another "network": {"cidr": ...} in the lab spec that no host interface uses (see \`ip -4 addr\`)`,
      });
    }
  }
  return problems;
}

/** Not a blocker (the lab works), but worth saying: seen with LXD 5.0.2 on Debian 12 without nft. */
export const XTABLES_WARNING =
  "warning: LXD uses its xtables firewall driver, which on iptables-nft hosts cannot remove a deleted bridge's " +
  "FORWARD rules (lab down leaves two behind); fix: apt-get install -y nftables, then restart LXD";

export function preflightError(report: PreflightReport): PreconditionError {
  const [first] = report.problems;
  const code = report.problems.length === 1 && first ? first.code : "LXD_PREFLIGHT_FAILED";
  return new PreconditionError(
    code,
    // The fixes are part of the message: the lab engine wraps this error and shows its message.
    `The LXD host is not ready for this lab:\n${report.problems.map((p) => `  - ${p.problem}\n    fix: ${p.fix}`).join("\n")}`,
    {
      hint: report.problems.map((p) => p.fix).join("\n  then: "),
      details: { problems: report.problems },
    },
  );
}

/** What preflight found: the problems (apply refuses with them) and the facts it saw. */
export type PreflightFacts = PreflightReport;

export function preflightStep(o: LxdLabOptions, clientFor: LxdClientFactory): LabStep<PreflightFacts> {
  const run = () => lxdPreflight(clientFor(o), o);
  const http = (display: string): StepCall => ({ kind: "http", display });
  return {
    description: {
      id: "preflight",
      readOnly: true,
      title: "Check the LXD host",
      why:
        "Before anything is created, labgate checks that LXD answers on its socket, that the storage pool for the " +
        "containers exists, that the bridge name is free (or already this lab's), that the subnet collides with no other " +
        "LXD network (naming the lab that owns it) or host interface, that the expose address is free on the host " +
        "and that the image is present. Each problem comes with the command that fixes it. Nothing changes.",
      calls: [
        http("GET /1.0"),
        http(`GET /1.0/storage-pools/${o.storagePool}`),
        http("GET /1.0/networks?recursion=1"),
        http("GET /1.0/instances?recursion=1"),
        {
          kind: "probe",
          display: `ss -ltn   # ${o.expose.address}:${o.expose.port} (expose) must be free or this lab's; ip -4 addr: no overlap with ${o.subnet.cidr}`,
        },
        resolveImageRef(o.image).where === "local"
          ? http(`GET /1.0/images/aliases/${o.image}`)
          : { display: `(image ${o.image} is pulled by LXD)` },
      ],
      diagnostics: ["lxc info", "lxc storage list", "lxc network list", "lxc image list"],
    },
    actions: {
      async check() {
        const report = await run();
        return { done: report.problems.length === 0, detail: report.facts.join("; "), facts: report };
      },
      async apply(_ctx, found) {
        if (found.facts.problems.length) throw preflightError(found.facts);
      },
      async verify() {
        const report = await run();
        if (report.problems.length) throw preflightError(report);
      },
      async undo() {
        // read-only step: nothing to remove
      },
    },
  };
}
