import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { PreconditionError } from "../../../errors.js";
import { parseIpv4, prefixToMask } from "../../../ip-pool/ipv4.js";
import { sleep } from "../../../util/sleep.js";
import type { LxdClient } from "../../lxd/lxd-client.js";
import type { LxdDevices } from "../../lxd/types.js";
import {
  CONTEXT_APPLIER,
  CONTEXT_BOOT_HOOK,
  CONTEXT_DIR,
  CONTEXT_HOOK_SCRIPT,
  CONTEXT_STATUS_FILE,
  contextApplierScript,
  contextPackageFor,
  renderContextSh,
  USER_DATA_JSON,
} from "./guest-context.js";
import type { SimHypervisor, SimNic, SimVm } from "./hypervisor.js";

/** labgate's offline Debian image with the tiny init that runs /etc/labgate/boot.d hooks (scripts/ci/setup-lxd.sh). */
export const SIM_DEFAULT_IMAGE = "labgate/debian-bookworm";
/** Config key on every container and bridge the simulator creates: whose they are (the session id). */
export const SIM_OWNER_KEY = "user.labgate.one-sim";

export interface LxdSimHypervisorOptions {
  client: LxdClient;
  /** Image alias the containers start from. Default labgate/debian-bookworm. */
  image?: string;
  /** Storage pool of the root disk. Default: the default profile's root pool, else "default". */
  pool?: string;
  /** How long deploy waits for the guest to report its context applied. Default 60 s. */
  contextTimeoutMs?: number;
  /** Progress lines for people. */
  log?: (message: string) => void;
  /** Identifies this simulator's objects in LXD; default a random id. */
  sessionId?: string;
}

interface SimBridge {
  name: string;
  network: string;
  members: Set<number>;
}

/** What the guest reported after applying its context (CONTEXT_STATUS_FILE). */
export interface GuestContextStatus {
  package: string;
  network?: string[];
  userData?: string;
  startScript?: number | null;
  error?: string;
}

/**
 * A simulated OpenNebula host whose VMs are real LXD containers on this machine, named `one-<id>` as
 * OpenNebula's LXD driver names them (src/vmm_mad/remotes/lib/lxd/container.rb: "one-#{vm_id}"). Each
 * simulated virtual network gets its own LXD bridge, created at the first deploy on it, without DHCP, NAT or
 * DNS, with the network's gateway address on the host side (as a bridge vn_mad host with the gateway on the
 * bridge would have; src/vnm_mad/remotes/lib/vnm_driver.rb creates a missing bridge and removes it when
 * its last NIC is gone). The context is applied by the guest itself: the context disk's files go to
 * /context (where the LXD driver mounts it) and the image's init runs the context package's logic at boot
 * (guest-context.ts names the upstream script of each part). Nothing outside what this object created is
 * changed: every container and bridge carries SIM_OWNER_KEY, and a name taken by something else fails deploy.
 */
export class LxdSimHypervisor implements SimHypervisor {
  readonly sessionId: string;
  readonly #client: LxdClient;
  readonly #image: string;
  readonly #contextTimeoutMs: number;
  readonly #log: (message: string) => void;
  #pool: string | undefined;
  readonly #bridges = new Map<string, SimBridge>();
  readonly #containers = new Set<number>();

  constructor(options: LxdSimHypervisorOptions) {
    this.#client = options.client;
    this.#image = options.image ?? SIM_DEFAULT_IMAGE;
    this.#pool = options.pool;
    this.#contextTimeoutMs = options.contextTimeoutMs ?? 60_000;
    this.#log = options.log ?? (() => {});
    this.sessionId = options.sessionId ?? randomBytes(4).toString("hex");
  }

  static containerName(id: number): string {
    return `one-${id}`;
  }

  /** Bridge names are at most 15 characters (IFNAMSIZ): a hash of session and network keeps them unique. */
  bridgeName(network: string): string {
    return `lgtone${createHash("sha256").update(`${this.sessionId}/${network}`).digest("hex").slice(0, 8)}`;
  }

  /** Containers and bridges this hypervisor created and has not removed yet. */
  created(): { containers: string[]; bridges: string[] } {
    return {
      containers: [...this.#containers].map((id) => LxdSimHypervisor.containerName(id)),
      bridges: [...this.#bridges.values()].map((b) => b.name),
    };
  }

  async deploy(vm: SimVm): Promise<void> {
    const name = LxdSimHypervisor.containerName(vm.id);
    const existing = await this.#client.getInstance(name);
    if (existing && existing.config[SIM_OWNER_KEY] !== this.sessionId) {
      throw new PreconditionError(
        "ONE_SIM_NAME_TAKEN",
        `LXD already has a container ${name} that this simulator did not create.`,
        {
          hint: `Remove or rename it (\`lxc delete ${name}\`) if it is a leftover, or stop the other simulator using it.`,
        },
      );
    }
    const devices: LxdDevices = { root: { type: "disk", path: "/", pool: await this.#rootPool() } };
    for (const [i, nic] of vm.nics.entries()) {
      const bridge = await this.#bridgeFor(nic);
      bridge.members.add(vm.id);
      devices[`eth${i}`] = { type: "nic", network: bridge.name, name: `eth${i}`, hwaddr: nic.mac };
    }
    if (!existing) {
      this.#log(`  lxd: creating ${name} from ${this.#image} (VM ${vm.id} "${vm.name}")`);
      // Recorded before the call: a failed create may still leave the container behind.
      this.#containers.add(vm.id);
      await this.#client.createInstance({
        name,
        description: `labgate OpenNebula simulator VM ${vm.id} (${vm.name})`,
        profiles: [],
        config: { [SIM_OWNER_KEY]: this.sessionId, "user.labgate.one-vm-name": vm.name },
        devices,
        source: { type: "image", alias: this.#image },
      });
    }
    await this.#pushContext(name, vm);
    await this.#client.setInstanceState(name, "start");
    await this.#waitForContext(name);
  }

  async poweroff(id: number, hard: boolean): Promise<void> {
    const name = LxdSimHypervisor.containerName(id);
    const state = await this.#client.getInstanceState(name);
    if (state.status === "Frozen") await this.#client.setInstanceState(name, "unfreeze");
    if (state.status !== "Stopped")
      await this.#client.setInstanceState(name, "stop", { force: hard, timeoutSeconds: 30 });
  }

  async resume(id: number): Promise<void> {
    const name = LxdSimHypervisor.containerName(id);
    const state = await this.#client.getInstanceState(name);
    if (state.status === "Frozen") await this.#client.setInstanceState(name, "unfreeze");
    // A powered-off VM boots again: the context is applied again, as one-context does at every boot.
    else if (state.status === "Stopped") {
      await this.#client.setInstanceState(name, "start");
      await this.#waitForContext(name);
    }
  }

  async suspend(id: number): Promise<void> {
    await this.#client.setInstanceState(LxdSimHypervisor.containerName(id), "freeze");
  }

  async destroy(id: number): Promise<void> {
    const name = LxdSimHypervisor.containerName(id);
    const instance = await this.#client.getInstance(name);
    if (instance && instance.config[SIM_OWNER_KEY] === this.sessionId) {
      if (instance.status === "Frozen") await this.#client.setInstanceState(name, "unfreeze");
      if (instance.status !== "Stopped") await this.#client.setInstanceState(name, "stop", { force: true });
      this.#log(`  lxd: deleting ${name}`);
      await this.#client.deleteInstance(name);
    }
    this.#containers.delete(id);
    for (const bridge of [...this.#bridges.values()]) {
      if (!bridge.members.delete(id) || bridge.members.size > 0) continue;
      await this.#deleteBridge(bridge);
    }
  }

  /** Removes every container and bridge this hypervisor created (simulator shutdown). */
  async close(): Promise<void> {
    const failures: string[] = [];
    for (const id of [...this.#containers]) {
      await this.destroy(id).catch((e: Error) => failures.push(`one-${id}: ${e.message}`));
    }
    for (const bridge of [...this.#bridges.values()]) {
      await this.#deleteBridge(bridge).catch((e: Error) => failures.push(`${bridge.name}: ${e.message}`));
    }
    if (failures.length > 0) {
      throw new PreconditionError(
        "ONE_SIM_CLEANUP_FAILED",
        `The simulator could not remove: ${failures.join("; ")}.`,
        { hint: `Remove them by hand: \`lxc list\` and \`lxc network list\` (config ${SIM_OWNER_KEY}).` },
      );
    }
  }

  async #deleteBridge(bridge: SimBridge): Promise<void> {
    const live = await this.#client.getNetwork(bridge.name);
    if (live && live.config[SIM_OWNER_KEY] === this.sessionId) {
      this.#log(`  lxd: deleting bridge ${bridge.name} (${bridge.network})`);
      await this.#client.deleteNetwork(bridge.name);
    }
    this.#bridges.delete(bridge.network);
  }

  async #bridgeFor(nic: SimNic): Promise<SimBridge> {
    const known = this.#bridges.get(nic.network);
    if (known) return known;
    const name = this.bridgeName(nic.network);
    const bridge: SimBridge = { name, network: nic.network, members: new Set() };
    const prefix = maskPrefix(nic.mask);
    // Without a gateway the host has no address on the lab network and could not reach the VMs: the
    // bridge then has none either, like a bridge vn_mad host whose network has no GATEWAY.
    const address = nic.gateway ? `${nic.gateway}/${prefix}` : "none";
    if (!(await this.#client.getNetwork(name))) {
      if (nic.gateway) await refuseRouteConflict(nic, prefix);
      this.#log(`  lxd: creating bridge ${name} for network "${nic.network}" (host address ${address})`);
      this.#bridges.set(nic.network, bridge);
      await this.#client.createNetwork({
        name,
        description: `labgate OpenNebula simulator network ${nic.network}`,
        config: {
          [SIM_OWNER_KEY]: this.sessionId,
          "ipv4.address": address,
          "ipv4.dhcp": "false",
          "ipv4.nat": "false",
          "ipv4.firewall": "false",
          "ipv6.address": "none",
          "dns.mode": "none",
        },
      });
    }
    this.#bridges.set(nic.network, bridge);
    return bridge;
  }

  async #rootPool(): Promise<string> {
    if (this.#pool) return this.#pool;
    const profile = await this.#client.getProfile("default");
    const root = Object.values(profile?.devices ?? {}).find((d) => d.type === "disk" && d.path === "/");
    this.#pool = root?.pool ?? "default";
    return this.#pool;
  }

  /** The context disk's files, and the context package's applier the image carries. */
  async #pushContext(name: string, vm: SimVm): Promise<void> {
    const pkg = contextPackageFor(vm.oneVersion);
    const found = await this.#client.readFile(name, CONTEXT_DIR).catch(() => undefined);
    if (!found) await this.#client.pushDirectory(name, CONTEXT_DIR, { mode: 0o700 });
    await this.#client.pushFile(name, `${CONTEXT_DIR}/context.sh`, renderContextSh(vm.context), {
      mode: 0o600,
    });
    const userData = userDataJson(vm.context);
    if (userData !== undefined) await this.#client.pushFile(name, USER_DATA_JSON, userData, { mode: 0o600 });
    await this.#client.pushFile(name, CONTEXT_APPLIER, contextApplierScript(pkg), { mode: 0o755 });
    await this.#client.pushFile(name, CONTEXT_BOOT_HOOK, CONTEXT_HOOK_SCRIPT, { mode: 0o755 });
  }

  /** RUNNING is reported once the guest says its context is applied (or the wait ends: logged, not fatal). */
  async #waitForContext(name: string): Promise<void> {
    const deadline = Date.now() + this.#contextTimeoutMs;
    for (;;) {
      const raw = await this.#client.readFile(name, CONTEXT_STATUS_FILE).catch(() => undefined);
      if (raw) {
        const status = JSON.parse(raw.toString("utf8")) as GuestContextStatus;
        const parts = [
          `network ${status.network?.join(", ") || "none"}`,
          `USER_DATA ${status.userData ?? "?"}`,
          `start script ${status.startScript === null || status.startScript === undefined ? "none" : `exit ${status.startScript}`}`,
        ];
        this.#log(
          `  ${name} context (${status.package}): ${parts.join("; ")}${status.error ? `; ERROR ${status.error}` : ""}`,
        );
        return;
      }
      if (Date.now() >= deadline) {
        this.#log(
          `  ${name}: the guest did not report its context within ${this.#contextTimeoutMs / 1000} s (see /var/log/one-context.log in it)`,
        );
        return;
      }
      await sleep(250);
    }
  }
}

/** Reads the guest's context report (undefined until the guest has applied its context). */
export async function readGuestContextStatus(
  client: LxdClient,
  vmId: number,
): Promise<GuestContextStatus | undefined> {
  const raw = await client.readFile(LxdSimHypervisor.containerName(vmId), CONTEXT_STATUS_FILE);
  return raw ? (JSON.parse(raw.toString("utf8")) as GuestContextStatus) : undefined;
}

/**
 * The bridge puts the VNet's gateway on this machine: a VNet whose subnet this machine already routes (its
 * LAN, another bridge) would take those addresses over. Read from the kernel's table (/proc/net/route).
 */
async function refuseRouteConflict(nic: SimNic, prefix: number): Promise<void> {
  const table = await readFile("/proc/net/route", "utf8").catch(() => "");
  const ours = parseIpv4(nic.gateway ?? "0.0.0.0") & prefixToMask(prefix);
  for (const line of table.split("\n").slice(1)) {
    const [iface, dest, , , , , , mask] = line.trim().split(/\s+/);
    if (!iface || !dest || !mask || mask === "00000000") continue;
    // /proc/net/route prints addresses as little-endian hex.
    const routeMask = Number.parseInt(mask.match(/../g)?.reverse().join("") ?? "0", 16) >>> 0;
    const routeNet = Number.parseInt(dest.match(/../g)?.reverse().join("") ?? "0", 16) >>> 0;
    const common = (routeMask & prefixToMask(prefix)) >>> 0;
    if ((routeNet & common) >>> 0 !== (ours & common) >>> 0) continue;
    throw new PreconditionError(
      "ONE_SIM_SUBNET_IN_USE",
      `The virtual network "${nic.network}" (${nic.gateway}/${prefix}) overlaps a network this machine already routes via ${iface}; the simulator's bridge would take those addresses over.`,
      {
        hint: "Give the simulated VNet a subnet that is not in use on this machine (e.g. 10.199.3.0/24, as examples/lab-opennebula-sim.yaml does), with a matching IP pool.",
        details: { network: nic.network, iface },
      },
    );
  }
}

function maskPrefix(mask: string): number {
  if (/^\d+$/.test(mask)) return Number(mask);
  const bits = mask
    .split(".")
    .map((o) => Number(o).toString(2).padStart(8, "0"))
    .join("");
  const prefix = bits.indexOf("0");
  return prefix === -1 ? 32 : prefix;
}

/** USER_DATA (optionally base64, USER_DATA_ENCODING) as JSON for the guest, or undefined without one. */
function userDataJson(context: Record<string, string>): string | undefined {
  let text = context.USER_DATA ?? context.USERDATA;
  if (!text) return undefined;
  if ((context.USER_DATA_ENCODING ?? context.USERDATA_ENCODING) === "base64")
    text = Buffer.from(text, "base64").toString("utf8");
  // Non-cloud-config user data (a script, a MIME archive) is not what one_cloudinit.rb reads: nothing to apply.
  if (!text.startsWith("#cloud-config")) return "{}";
  const parsed = parseYaml(text) as unknown;
  return JSON.stringify(parsed && typeof parsed === "object" ? parsed : {});
}
