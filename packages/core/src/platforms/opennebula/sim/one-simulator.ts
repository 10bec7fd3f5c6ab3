import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { formatIpv4, parseIpv4 } from "../../../ip-pool/ipv4.js";
import { contextCapabilities, ONED_VERSION_STRING, type OneContextVersion } from "../context-versions.js";
import { checkLxdImageUrl } from "../lxd-image-url.js";
import { OneErrorCode } from "../one-errors.js";
import { HOST_STATES, IMAGE_STATES, LCM_STATES, stateValue, VM_STATES, VNET_STATES } from "../states.js";
import {
  decodeMethodCall,
  encodeFault,
  encodeMethodResponse,
  escapeXml,
  type XmlRpcValue,
} from "../xmlrpc.js";
import {
  type SimVm as HypervisorVm,
  inMemoryHypervisor,
  type SimHypervisor,
  type SimNic,
} from "./hypervisor.js";
import { LINUX_CONTAINERS_MARKET, linuxContainersApps, type SimMarketApp } from "./marketplace.js";
import { matchesRequirements, SchedExpressionError } from "./sched-requirements.js";
import {
  ApiError,
  cdata,
  macFor,
  OWNER,
  PERMISSIONS,
  parseTemplate,
  SHORT_VM_TEMPLATE,
  str,
  templateXml,
} from "./sim-xml.js";

/**
 * An OpenNebula front-end simulator: a real HTTP server speaking XML-RPC at /RPC2 with oned's response arrays,
 * error codes, state machines and documents (share/doc/xsd). Each modelled rule names the upstream file it
 * comes from (OpenNebula/one release-6.8.3 … 7.0). Asynchronous operations advance one state per "monitoring
 * tick": an info call on the resource, and every `transitionMs` when set (the `labgate sim` server).
 * Templates are accepted as XML only (<TEMPLATE>…): the labgate client always sends XML.
 * What a host does with a VM is delegated to a SimHypervisor (default: nothing; H4b's: real LXD containers).
 */
export interface OneSimulatorOptions {
  /** Accepted users: name → password (passwords may contain spaces). Default { oneadmin: "opennebula" }. */
  users?: Record<string, string>;
  /** Which release to behave like: drivers, context package, marketplace templates. Default "6.8". */
  oneVersion?: OneContextVersion;
  /** Hosts that already exist: name, driver, and whether monitoring succeeds. */
  hosts?: Array<{
    name: string;
    vmMad?: string;
    fails?: boolean;
    state?: (typeof HOST_STATES)[number];
    /** A host in ERROR whose cause was fixed: oned's next monitoring rounds (info calls) find it MONITORED. */
    recoverAfter?: number;
  }>;
  /** Hosts added later that end in ERROR after monitoring (names). */
  failingHosts?: string[];
  /** VMs (by name) whose boot fails: they end ACTIVE/BOOT_FAILURE. */
  bootFailures?: string[];
  /** VMs (by name) whose prolog fails: ACTIVE/PROLOG_FAILURE. */
  prologFailures?: string[];
  /** VMs (by name) that lose monitoring once after RUNNING: ACTIVE/UNKNOWN for one tick, then RUNNING again. */
  unknownBlips?: string[];
  /** Images (by name) whose download fails although their PATH is valid (e.g. no Internet on the front-end). */
  failingImages?: string[];
  /** Virtual networks (by name) whose driver fails to set them up: they are in ERROR once allocated. */
  failingVnets?: string[];
  /** Ticks per transition (default 1). */
  ticksPerTransition?: number;
  /** Also tick every this many ms (0: only info calls tick). */
  transitionMs?: number;
  hypervisor?: SimHypervisor;
}

interface Host {
  id: number;
  name: string;
  imMad: string;
  vmMad: string;
  clusterId: number;
  state: number;
  fails: boolean;
  error?: string;
  ticks: number;
  recoverIn?: number;
}
interface Lease {
  ip: string;
  vm: number;
}
interface Ar {
  arId: number;
  type: string;
  ip: string;
  size: number;
  leases: Lease[];
  attrs: Record<string, unknown>;
}
interface Vnet {
  id: number;
  name: string;
  bridge: string;
  vnMad: string;
  state: number;
  ars: Ar[];
  template: Record<string, unknown>;
}
interface Image {
  id: number;
  name: string;
  datastoreId: number;
  path: string;
  state: number;
  ticks: number;
  error?: string;
  /** VMs holding the image (oned's running_vms counter, src/image/ImageManagerActions.cc acquire/release). */
  vms: Set<number>;
  template: Record<string, unknown>;
}
interface Template {
  id: number;
  name: string;
  template: Record<string, unknown>;
  regtime: number;
}
/**
 * A driver script's failure on the simulated host. Never thrown out of the simulator: #run turns its
 * message into the VM's ERROR text and failure state, as oned does with a driver's stderr.
 */
class DriverFailure extends Error {}

/** One state a VM passes through; `hook` is the driver call made in that state (the next step waits for it). */
interface Step {
  state: (typeof VM_STATES)[number];
  lcm: (typeof LCM_STATES)[number];
  hook?: () => Promise<void>;
  onFail?: (typeof LCM_STATES)[number];
  after?: () => void;
}
interface Vm {
  id: number;
  name: string;
  state: number;
  lcm: number;
  ticks: number;
  hostId: number;
  template: Record<string, unknown>;
  nics: Array<{ nicId: number; ip: string; network: string; networkId: number; mac: string }>;
  imageIds: number[];
  error?: string;
  schedMessage?: string;
  stime: number;
  etime: number;
  steps: Step[];
  busy: boolean;
  blipped: boolean;
  /** Which driver call is current: a call overtaken by another (recover --delete during deploy) is ignored. */
  hookSeq: number;
}

const st = {
  host: (n: (typeof HOST_STATES)[number]) => stateValue(HOST_STATES, n),
  vm: (n: (typeof VM_STATES)[number]) => stateValue(VM_STATES, n),
  lcm: (n: (typeof LCM_STATES)[number]) => stateValue(LCM_STATES, n),
  image: (n: (typeof IMAGE_STATES)[number]) => stateValue(IMAGE_STATES, n),
  vnet: (n: (typeof VNET_STATES)[number]) => stateValue(VNET_STATES, n),
};

/** Parameter signatures as in the API reference: s string, i int, b boolean; "?" marks optional ones. */
const SIGNATURES: Record<string, string> = {
  "one.system.version": "s",
  "one.hostpool.info": "s",
  "one.host.info": "si?b",
  "one.host.allocate": "ssssi",
  "one.host.delete": "si",
  "one.vnpool.info": "siii",
  "one.vn.info": "si?b",
  "one.vn.allocate": "ssi",
  "one.vn.delete": "si",
  "one.vn.hold": "sis",
  "one.vn.release": "sis",
  "one.imagepool.info": "siii",
  "one.image.info": "si?b",
  "one.image.allocate": "ssi?b",
  "one.image.delete": "si?b",
  "one.templatepool.info": "siii",
  "one.template.info": "si?b?b",
  "one.template.allocate": "ss",
  "one.template.delete": "si?b",
  "one.template.instantiate": "sisbsb",
  "one.vmpool.info": "siiii?s",
  "one.vm.info": "si?b",
  "one.vm.action": "ssi",
  "one.vm.recover": "sii",
  "one.marketpool.info": "siii",
  "one.marketapppool.info": "siii",
  "one.marketapp.info": "si?b",
  // No "one.marketapp.export": export is a client-side Ruby method (src/oca/ruby/opennebula/marketplaceapp_ext.rb)
  // that reads the app and calls one.image.allocate with FROM_APP; oned answers it with "method not defined".
};

function checkSignature(method: string, params: XmlRpcValue[]): string | undefined {
  const sig = SIGNATURES[method];
  if (sig === undefined) return `Requested method '${method}' not defined`;
  const types = [...sig.matchAll(/(\??)([sib])/g)].map((m) => ({ optional: m[1] === "?", type: m[2]! }));
  const required = types.filter((t) => !t.optional).length;
  if (params.length < required || params.length > types.length)
    return "Signature error: wrong number of parameters";
  for (const [i, p] of params.entries()) {
    const want = types[i]!.type;
    const ok =
      want === "s" ? typeof p === "string" : want === "i" ? Number.isInteger(p) : typeof p === "boolean";
    if (!ok) return `Type mismatch in parameter ${i + 1} of ${method}: expected ${want}`;
  }
  return undefined;
}

/** src/dm/DispatchManagerActions.cc DispatchManager::terminate (6.8 … 7.0): which states allow it, and how. */
const TERMINATE_OK_LCM = new Set(["RUNNING", "UNKNOWN"]);
const TERMINATE_OK_STATES = new Set(["POWEROFF", "SUSPENDED", "STOPPED", "UNDEPLOYED"]);
const TERMINATE_AT_ONCE_STATES = new Set(["INIT", "PENDING", "HOLD", "CLONING", "CLONING_FAILURE"]);
/** Failure states in which terminate deletes the VM (lcm->trigger_delete: CLEANUP_DELETE → DONE). */
const TERMINATE_DELETES_LCM = new Set([
  "BOOT_FAILURE",
  "BOOT_MIGRATE_FAILURE",
  "PROLOG_MIGRATE_FAILURE",
  "PROLOG_FAILURE",
  "EPILOG_FAILURE",
  "EPILOG_STOP_FAILURE",
  "EPILOG_UNDEPLOY_FAILURE",
  "PROLOG_MIGRATE_POWEROFF_FAILURE",
  "PROLOG_MIGRATE_SUSPEND_FAILURE",
  "BOOT_UNDEPLOY_FAILURE",
  "BOOT_STOPPED_FAILURE",
  "PROLOG_RESUME_FAILURE",
  "PROLOG_UNDEPLOY_FAILURE",
  "PROLOG_MIGRATE_UNKNOWN_FAILURE",
]);

export interface SimulatorCall {
  method: string;
  /** Parameters without the session. */
  params: XmlRpcValue[];
  ok: boolean;
}

export class OneSimulator {
  readonly calls: SimulatorCall[] = [];
  /**
   * Test hook: the answer to a call is sent only when the returned promise settles (the call has
   * taken effect; its client is kept waiting, as one killed mid-call would be).
   */
  holdAnswer: ((method: string) => Promise<void> | undefined) | undefined;
  /** Raw request bodies (they carry the session, as on the wire). */
  readonly requests: string[] = [];
  readonly options: Required<Omit<OneSimulatorOptions, "hosts" | "hypervisor">>;
  readonly hypervisor: SimHypervisor;
  hosts: Host[] = [];
  vnets: Vnet[] = [];
  images: Image[] = [];
  templates: Template[] = [];
  vms: Vm[] = [];
  readonly marketApps: SimMarketApp[];
  #next = { host: 0, vnet: 0, image: 0, template: 0, vm: 0 };
  #server: Server | undefined;
  #timer: NodeJS.Timeout | undefined;
  #port = 0;
  #clock = 1_700_000_000;
  /** Hook promises in flight, so stop() can wait for the hypervisor to finish. */
  #inFlight = new Set<Promise<void>>();

  constructor(options: OneSimulatorOptions = {}) {
    this.options = {
      users: options.users ?? { oneadmin: "opennebula" },
      oneVersion: options.oneVersion ?? "6.8",
      failingHosts: options.failingHosts ?? [],
      bootFailures: options.bootFailures ?? [],
      prologFailures: options.prologFailures ?? [],
      unknownBlips: options.unknownBlips ?? [],
      failingImages: options.failingImages ?? [],
      failingVnets: options.failingVnets ?? [],
      ticksPerTransition: options.ticksPerTransition ?? 1,
      transitionMs: options.transitionMs ?? 0,
    };
    this.hypervisor = options.hypervisor ?? inMemoryHypervisor();
    this.marketApps = linuxContainersApps(this.options.oneVersion);
    for (const h of options.hosts ?? []) {
      const id = this.#next.host++;
      const state = st.host(h.state ?? (h.fails ? "ERROR" : "MONITORED"));
      this.hosts.push({
        id,
        name: h.name,
        imMad: h.vmMad ?? this.#defaultDriver(),
        vmMad: h.vmMad ?? this.#defaultDriver(),
        clusterId: 0,
        state,
        fails: h.fails ?? false,
        ticks: 0,
        ...(state === st.host("ERROR") ? { error: this.#monitorError(h.name, id) } : {}),
        ...(h.recoverAfter === undefined ? {} : { recoverIn: h.recoverAfter }),
      });
    }
  }

  get version(): string {
    return ONED_VERSION_STRING[this.options.oneVersion];
  }

  /** share/etc/oned.conf: the lxd VM_MAD exists up to 6.8; lxc from 6.0; 6.10 removed lxd. */
  get drivers(): string[] {
    return this.options.oneVersion === "6.8"
      ? ["lxd", "lxc", "kvm", "qemu", "firecracker"]
      : ["lxc", "kvm", "qemu", "firecracker"];
  }

  #defaultDriver(): string {
    return this.options.oneVersion === "6.8" ? "lxd" : "lxc";
  }

  async start(port = 0, host = "127.0.0.1"): Promise<string> {
    const server = createServer((req, res) => void this.#handle(req, res));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, resolve);
    });
    this.#port = (server.address() as AddressInfo).port;
    if (this.options.transitionMs > 0 && !this.#timer) {
      this.#timer = setInterval(() => this.tickAll(), this.options.transitionMs);
      this.#timer.unref();
    }
    return `http://${host.includes(":") ? `[${host}]` : host}:${this.#port}/RPC2`;
  }

  /** Like `systemctl restart opennebula`: nothing answers for `downMs`, then oned is back with its state. */
  async restart(downMs: number): Promise<void> {
    const port = this.#port;
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start(port);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const server = this.#server;
    if (server) {
      this.#server = undefined;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Count of successful calls of a method (e.g. how many VMs were instantiated). */
  count(method: string): number {
    return this.calls.filter((c) => c.method === method && c.ok).length;
  }

  /** One monitoring round over every resource (what the timer does). */
  tickAll(): void {
    for (const h of this.hosts) this.#tickHost(h);
    for (const i of this.images) this.#tickImage(i);
    for (const vm of this.vms) this.#tickVm(vm);
  }

  /**
   * What the guest's context package runs for this VM (contextCapabilities of the simulated release): the
   * address from ETH*_ (always, NETWORK="YES"), START_SCRIPT[_BASE64], and USER_DATA only where it is read.
   */
  contextRuns(vmId: number): {
    network: boolean;
    startScript?: string;
    userData?: string;
    ignored: string[];
  } {
    const vm = this.#find(this.vms, vmId, "VM");
    const context = (vm.template.CONTEXT ?? {}) as Record<string, unknown>;
    const caps = contextCapabilities(this.options.oneVersion);
    const ignored: string[] = [];
    const decode = (key: string, encodingKey?: string) => {
      const raw = str(context, key);
      if (!raw) return undefined;
      const base64 = key.endsWith("_BASE64") || (encodingKey && str(context, encodingKey) === "base64");
      return base64 ? Buffer.from(raw, "base64").toString("utf8") : raw;
    };
    const startScript = decode("START_SCRIPT_BASE64") ?? decode("START_SCRIPT");
    const userData = decode("USER_DATA", "USER_DATA_ENCODING");
    if (userData !== undefined && !caps.userData) ignored.push("USER_DATA");
    return {
      network: str(context, "NETWORK") === "YES",
      ...(startScript !== undefined ? { startScript } : {}),
      ...(userData !== undefined && caps.userData ? { userData } : {}),
      ignored,
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const send = (status: number, xml: string) => {
      res.writeHead(status, { "content-type": "text/xml" });
      res.end(xml);
    };
    if (req.method !== "POST" || req.url !== "/RPC2") return send(404, "<html>Not Found</html>");
    this.requests.push(body);
    let call: ReturnType<typeof decodeMethodCall>;
    try {
      call = decodeMethodCall(body);
    } catch (error) {
      return send(200, encodeFault(-503, `Call XML not a proper XML-RPC call. ${(error as Error).message}`));
    }
    const problem = checkSignature(call.method, call.params);
    if (problem) return send(200, encodeFault(problem.includes("not defined") ? -506 : -501, problem));
    const [session, ...params] = call.params as [string, ...XmlRpcValue[]];
    try {
      this.#authenticate(session);
      const result = this.#dispatch(call.method, params);
      this.calls.push({ method: call.method, params, ok: true });
      await this.holdAnswer?.(call.method);
      send(200, encodeMethodResponse([true, result, 0]));
    } catch (error) {
      this.calls.push({ method: call.method, params, ok: false });
      if (!(error instanceof ApiError)) return send(500, "internal simulator error");
      send(200, encodeMethodResponse([false, `[${call.method}] ${error.message}`, error.code, -1]));
    }
  }

  /** src/authm/AuthManager.cc: the session is `user:secret`; the secret is everything after the first colon. */
  #authenticate(session: string): void {
    const colon = session.indexOf(":");
    const user = session.slice(0, colon);
    const password = session.slice(colon + 1);
    if (colon <= 0 || this.options.users[user] === undefined || this.options.users[user] !== password) {
      throw new ApiError(OneErrorCode.AUTHENTICATION, "User couldn't be authenticated, aborting call.");
    }
  }

  #dispatch(method: string, p: XmlRpcValue[]): XmlRpcValue {
    const int = (i: number) => p[i] as number;
    const s = (i: number) => p[i] as string;
    switch (method) {
      case "one.system.version":
        return this.version;
      case "one.hostpool.info":
        return this.#thenTick(
          `<HOST_POOL>${this.hosts.map((h) => this.#hostXml(h)).join("")}</HOST_POOL>`,
          () => {
            for (const h of this.hosts) this.#tickHost(h);
          },
        );
      case "one.host.info": {
        const h = this.#find(this.hosts, int(0), "Host");
        return this.#thenTick(this.#hostXml(h), () => this.#tickHost(h));
      }
      case "one.host.allocate":
        return this.#allocateHost(s(0), s(1), s(2), int(3));
      case "one.host.delete":
        return this.#deleteHost(int(0));
      case "one.vnpool.info":
        return `<VNET_POOL>${this.vnets.map((v) => this.#vnetXml(v)).join("")}</VNET_POOL>`;
      case "one.vn.info":
        return this.#vnetXml(this.#find(this.vnets, int(0), "Virtual Network"));
      case "one.vn.allocate":
        return this.#allocateVnet(parseTemplate(s(0)));
      case "one.vn.delete":
        return this.#deleteVnet(int(0));
      case "one.vn.hold":
      case "one.vn.release":
        return this.#holdRelease(method === "one.vn.hold", int(0), parseTemplate(s(1)));
      case "one.imagepool.info":
        return `<IMAGE_POOL>${this.images.map((i) => this.#imageXml(i)).join("")}</IMAGE_POOL>`;
      case "one.image.info": {
        const image = this.#find(this.images, int(0), "Image");
        return this.#thenTick(this.#imageXml(image), () => this.#tickImage(image));
      }
      case "one.image.allocate":
        return this.#allocateImage(parseTemplate(s(0)), int(1));
      case "one.image.delete":
        return this.#deleteImage(int(0));
      case "one.templatepool.info":
        return `<VMTEMPLATE_POOL>${this.templates.map((t) => this.#templateXml(t)).join("")}</VMTEMPLATE_POOL>`;
      case "one.template.info":
        return this.#templateXml(this.#find(this.templates, int(0), "Template"));
      case "one.template.allocate":
        return this.#allocateTemplate(parseTemplate(s(0)));
      case "one.template.delete": {
        const t = this.#find(this.templates, int(0), "Template");
        this.templates = this.templates.filter((x) => x !== t);
        return t.id;
      }
      case "one.template.instantiate":
        return this.#instantiate(int(0), s(1), p[2] as boolean, s(3));
      case "one.vmpool.info": {
        const filter = int(3);
        const vms = this.vms.filter((vm) =>
          filter === -2 ? true : filter === -1 ? vm.state !== st.vm("DONE") : vm.state === filter,
        );
        return `<VM_POOL>${vms.map((vm) => this.#vmXml(vm, true)).join("")}</VM_POOL>`;
      }
      case "one.vm.info": {
        const vm = this.#find(this.vms, int(0), "VM");
        return this.#thenTick(this.#vmXml(vm), () => this.#tickVm(vm));
      }
      case "one.vm.action":
        return this.#vmAction(s(0), int(1));
      case "one.vm.recover":
        return this.#vmRecover(int(0), int(1));
      case "one.marketpool.info":
        return `<MARKETPLACE_POOL><MARKETPLACE><ID>${LINUX_CONTAINERS_MARKET.id}</ID>${OWNER}<NAME>${LINUX_CONTAINERS_MARKET.name}</NAME><STATE>0</STATE><MARKET_MAD>${cdata("linuxcontainers")}</MARKET_MAD><ZONE_ID>0</ZONE_ID><MARKETPLACEAPPS>${this.marketApps.map((a) => `<ID>${a.id}</ID>`).join("")}</MARKETPLACEAPPS>${PERMISSIONS}<TEMPLATE><ENDPOINT>${cdata("https://images.linuxcontainers.org")}</ENDPOINT></TEMPLATE></MARKETPLACE></MARKETPLACE_POOL>`;
      case "one.marketapppool.info":
        return `<MARKETPLACEAPP_POOL>${this.marketApps.map((a) => this.#appXml(a)).join("")}</MARKETPLACEAPP_POOL>`;
      case "one.marketapp.info":
        return this.#appXml(this.#find(this.marketApps, int(0), "MarketPlaceApp"));
      default:
        throw new ApiError(OneErrorCode.XML_RPC_API, `Method ${method} not simulated`);
    }
  }

  /** Answers with the state as it is, then lets time pass: the next poll sees the next state. */
  #thenTick(answer: string, tick: () => void): string {
    tick();
    return answer;
  }

  #find<T extends { id: number }>(list: T[], id: number, what: string): T {
    const found = list.find((x) => x.id === id);
    if (!found) throw new ApiError(OneErrorCode.NO_EXISTS, `Error getting ${what} [${id}].`);
    return found;
  }

  /**
   * src/rm/RequestManagerAllocate.cc: a failed pool allocate (name taken, bad template) is answered with
   * failure_response(INTERNAL, allocate_error(…)), i.e. code 0x2000, "Error allocating a new <object>. …".
   */
  #allocateError(what: string, detail: string): ApiError {
    return new ApiError(OneErrorCode.INTERNAL, `Error allocating a new ${what}. ${detail}`);
  }

  #nameTaken(list: Array<{ name: string; id: number }>, name: string, what: string, key: string): void {
    if (!name) throw this.#allocateError(what, "No NAME in template.");
    const other = list.find((x) => x.name === name);
    if (other) throw this.#allocateError(what, `NAME is already taken by ${key} ${other.id}.`);
  }

  // --- hosts: INIT → MONITORED | ERROR (include/Host.h; the MONITORING_* states are never reported since 5.12)
  #allocateHost(name: string, imMad: string, vmMad: string, clusterId: number): number {
    this.#nameTaken(this.hosts, name, "host", "HOST");
    // src/rm/RequestManagerAllocate.cc HostAllocate does not check the driver names; a driver oned.conf does
    // not define shows up at monitoring, as a host in ERROR.
    const id = this.#next.host++;
    const unknown = [imMad, vmMad].find((d) => !this.drivers.includes(d));
    this.hosts.push({
      id,
      name,
      imMad,
      vmMad,
      clusterId: Math.max(clusterId, 0),
      state: st.host("INIT"),
      fails: this.options.failingHosts.includes(name) || unknown !== undefined,
      ...(unknown !== undefined
        ? {
            error: `Cannot monitor host ${name}: driver ${unknown} is not defined in oned.conf (OpenNebula ${this.version} has ${this.drivers.join(", ")}).`,
          }
        : {}),
      ticks: 0,
    });
    return id;
  }

  #deleteHost(id: number): number {
    const h = this.#find(this.hosts, id, "Host");
    // src/rm/RequestManagerDelete.cc HostDelete: "Can not remove a host with running VMs".
    if (this.vms.some((vm) => vm.hostId === id && vm.state !== st.vm("DONE"))) {
      throw new ApiError(OneErrorCode.ACTION, `Cannot delete host ${id}: it has VMs.`);
    }
    this.hosts = this.hosts.filter((x) => x !== h);
    return id;
  }

  #monitorError(name: string, id: number): string {
    return `Error monitoring Host ${name} (${id}): Error executing monitor: lxc: Permission denied (oneadmin cannot open /var/snap/lxd/common/lxd/unix.socket)`;
  }

  #tickHost(h: Host): void {
    if (h.state === st.host("ERROR") && h.recoverIn !== undefined) {
      if (--h.recoverIn > 0) return;
      h.state = st.host("MONITORED");
      h.fails = false;
      delete h.error;
      delete h.recoverIn;
      return;
    }
    if (h.state !== st.host("INIT")) return;
    if (++h.ticks < this.options.ticksPerTransition) return;
    h.ticks = 0;
    if (h.fails) {
      h.state = st.host("ERROR");
      h.error ??= this.#monitorError(h.name, h.id);
    } else h.state = st.host("MONITORED");
  }

  #hostXml(h: Host): string {
    const vms = this.vms.filter((vm) => vm.hostId === h.id && vm.state !== st.vm("DONE"));
    const error =
      h.error && h.state === st.host("ERROR")
        ? `<ERROR>${cdata(`Fri Nov 20 10:00:00 2026 : ${h.error}`)}</ERROR>`
        : "";
    return `<HOST><ID>${h.id}</ID><NAME>${escapeXml(h.name)}</NAME><STATE>${h.state}</STATE><PREV_STATE>${h.state}</PREV_STATE><IM_MAD>${cdata(h.imMad)}</IM_MAD><VM_MAD>${cdata(h.vmMad)}</VM_MAD><CLUSTER_ID>${h.clusterId}</CLUSTER_ID><CLUSTER>default</CLUSTER><HOST_SHARE><MEM_USAGE>0</MEM_USAGE><CPU_USAGE>0</CPU_USAGE><TOTAL_MEM>8388608</TOTAL_MEM><TOTAL_CPU>400</TOTAL_CPU><MAX_MEM>8388608</MAX_MEM><MAX_CPU>400</MAX_CPU><RUNNING_VMS>${vms.length}</RUNNING_VMS></HOST_SHARE><VMS>${vms.map((vm) => `<ID>${vm.id}</ID>`).join("")}</VMS><TEMPLATE>${error}<HOSTNAME>${cdata(h.name)}</HOSTNAME><HYPERVISOR>${cdata(h.vmMad)}</HYPERVISOR></TEMPLATE><MONITORING/></HOST>`;
  }

  // --- virtual networks
  #allocateVnet(t: Record<string, unknown>): number {
    const name = str(t, "NAME");
    this.#nameTaken(this.vnets, name, "virtual network", "NET");
    const vnMad = str(t, "VN_MAD");
    if (!vnMad) throw this.#allocateError("virtual network", "No VN_MAD in template.");
    const bridge = str(t, "BRIDGE") || `onebr${this.#next.vnet}`;
    const arsRaw = (t.AR as Record<string, unknown>[] | undefined) ?? [];
    const ars: Ar[] = arsRaw.map((ar, arId) => {
      const type = str(ar, "TYPE");
      const ip = str(ar, "IP");
      const size = Number.parseInt(str(ar, "SIZE"), 10);
      if (type !== "IP4" || !/^\d+\.\d+\.\d+\.\d+$/.test(ip) || !(size > 0)) {
        throw this.#allocateError(
          "virtual network",
          `Invalid AR definition (TYPE=${type}, IP=${ip}, SIZE=${size}).`,
        );
      }
      const { TYPE: _t, IP: _i, SIZE: _s, ...attrs } = ar;
      return { arId, type, ip, size, leases: [], attrs };
    });
    const id = this.#next.vnet++;
    const rest = { ...t };
    delete rest.AR;
    const state = st.vnet(this.options.failingVnets.includes(name) ? "ERROR" : "READY");
    this.vnets.push({ id, name, bridge, vnMad, state, ars, template: rest });
    return id;
  }

  #deleteVnet(id: number): number {
    const vnet = this.#find(this.vnets, id, "Virtual Network");
    // src/rm/RequestManagerDelete.cc VirtualNetworkDelete → VirtualNetwork::get_used(): refused while any
    // lease belongs to a VM that is not DONE yet (leases are freed in EPILOG → DONE).
    if (vnet.ars.some((ar) => ar.leases.some((l) => l.vm >= 0))) {
      throw new ApiError(OneErrorCode.ACTION, `Cannot delete virtual network ${id}: it has leases in use.`);
    }
    this.vnets = this.vnets.filter((v) => v !== vnet);
    return id;
  }

  #arFor(vnet: Vnet, ip: string): Ar | undefined {
    const n = parseIpv4(ip);
    return vnet.ars.find((ar) => n >= parseIpv4(ar.ip) && n < parseIpv4(ar.ip) + ar.size);
  }

  #holdRelease(hold: boolean, id: number, t: Record<string, unknown>): number {
    const vnet = this.#find(this.vnets, id, "Virtual Network");
    const ip = str((t.LEASES as Record<string, unknown>) ?? {}, "IP");
    const ar = this.#arFor(vnet, ip);
    if (!ar) throw new ApiError(OneErrorCode.ACTION, `Lease ${ip} is not part of virtual network ${id}.`);
    const lease = ar.leases.find((l) => l.ip === ip);
    if (hold) {
      if (lease) throw new ApiError(OneErrorCode.ACTION, `Error holding lease ${ip}: already in use.`);
      ar.leases.push({ ip, vm: -1 });
    } else {
      if (!lease || lease.vm !== -1)
        throw new ApiError(OneErrorCode.ACTION, `Error releasing lease ${ip}: not on hold.`);
      ar.leases = ar.leases.filter((l) => l !== lease);
    }
    return id;
  }

  #vnetXml(v: Vnet): string {
    const used = v.ars.reduce((n, ar) => n + ar.leases.length, 0);
    const ars = v.ars
      .map(
        (ar) =>
          `<AR><AR_ID>${cdata(String(ar.arId))}</AR_ID>${Object.entries(ar.attrs)
            .map(([k, val]) => `<${k}>${cdata(String(val))}</${k}>`)
            .join(
              "",
            )}<IP>${cdata(ar.ip)}</IP><IP_END>${cdata(formatIpv4(parseIpv4(ar.ip) + ar.size - 1))}</IP_END><MAC>${cdata(macFor(ar.ip))}</MAC><SIZE>${cdata(String(ar.size))}</SIZE><TYPE>${cdata(ar.type)}</TYPE><USED_LEASES>${ar.leases.length}</USED_LEASES><LEASES>${ar.leases.map((l) => `<LEASE><IP>${cdata(l.ip)}</IP><MAC>${cdata(macFor(l.ip))}</MAC><VM>${cdata(String(l.vm))}</VM></LEASE>`).join("")}</LEASES></AR>`,
      )
      .join("");
    return `<VNET><ID>${v.id}</ID>${OWNER}<NAME>${escapeXml(v.name)}</NAME><LOCK/>${PERMISSIONS}<CLUSTERS><ID>0</ID></CLUSTERS><BRIDGE>${cdata(v.bridge)}</BRIDGE><BRIDGE_TYPE>${cdata("linux")}</BRIDGE_TYPE><STATE>${v.state}</STATE><PREV_STATE>0</PREV_STATE><PARENT_NETWORK_ID/><VN_MAD>${cdata(v.vnMad)}</VN_MAD><PHYDEV/><VLAN_ID/><OUTER_VLAN_ID/><VLAN_ID_AUTOMATIC>0</VLAN_ID_AUTOMATIC><OUTER_VLAN_ID_AUTOMATIC>0</OUTER_VLAN_ID_AUTOMATIC><USED_LEASES>${used}</USED_LEASES><VROUTERS/><UPDATED_VMS/><OUTDATED_VMS/><UPDATING_VMS/><ERROR_VMS/>${templateXml(v.template)}<AR_POOL>${ars}</AR_POOL></VNET>`;
  }

  // --- images: LOCKED → READY | ERROR
  #allocateImage(t: Record<string, unknown>, datastoreId: number): number {
    const name = str(t, "NAME");
    this.#nameTaken(this.images, name, "image", "IMAGE");
    if (datastoreId !== 1)
      throw new ApiError(OneErrorCode.NO_EXISTS, `Error getting datastore [${datastoreId}].`);
    const template = { ...t };
    // src/rm/RequestManagerAllocate.cc ImageAllocate: FROM_APP takes PATH from the marketplace app's SOURCE
    // (what `onemarketapp export` / Sunstone's export sends; src/oca/ruby/opennebula/marketplaceapp_ext.rb).
    const fromApp = str(t, "FROM_APP");
    if (fromApp) {
      const app = this.marketApps.find((a) => String(a.id) === fromApp);
      if (!app) throw new ApiError(OneErrorCode.NO_EXISTS, `Error getting marketplace app [${fromApp}].`);
      if (app.state !== 1) throw new ApiError(OneErrorCode.ACTION, `Marketplace app ${app.id} is not READY.`);
      template.PATH = app.source;
      template.FROM_APP_NAME = app.name;
      template.MARKETPLACE_ID = String(LINUX_CONTAINERS_MARKET.id);
    }
    const path = str(template, "PATH");
    if (!path && !str(t, "SOURCE")) throw this.#allocateError("image", "No PATH nor SOURCE in template.");
    const id = this.#next.image++;
    this.images.push({
      id,
      name,
      datastoreId,
      path,
      state: st.image("LOCKED"),
      ticks: 0,
      vms: new Set(),
      template,
    });
    return id;
  }

  /** The datastore's copy: lxd:// paths go through lxd_downloader.sh, whose rules checkLxdImageUrl encodes. */
  #tickImage(i: Image): void {
    if (i.state !== st.image("LOCKED")) return;
    if (++i.ticks < this.options.ticksPerTransition) return;
    if (i.path.startsWith("lxd://")) {
      const check = checkLxdImageUrl(i.path);
      if (!check.ok) {
        i.state = st.image("ERROR");
        i.error = `Error copying image in the datastore: lxd_downloader.sh failed for ${i.path}: ${check.problem}`;
        return;
      }
    }
    if (this.options.failingImages.includes(i.name)) {
      i.state = st.image("ERROR");
      i.error = `Error copying image in the datastore: cannot download ${i.path}`;
      return;
    }
    i.state = st.image("READY");
  }

  /** src/image/ImageManagerActions.cc delete_image: "Cannot delete image … There are N VMs using it." */
  #deleteImage(id: number): number {
    const image = this.#find(this.images, id, "Image");
    if (image.vms.size > 0) {
      throw new ApiError(
        OneErrorCode.ACTION,
        `Cannot delete image ${id}: There are ${image.vms.size} VMs using it.`,
      );
    }
    this.images = this.images.filter((i) => i !== image);
    return image.id;
  }

  #imageXml(i: Image): string {
    const error = i.error ? { ERROR: i.error } : {};
    const running = i.vms.size;
    const state = i.state === st.image("READY") && running > 0 ? st.image("USED") : i.state;
    return `<IMAGE><ID>${i.id}</ID>${OWNER}<NAME>${escapeXml(i.name)}</NAME><LOCK/>${PERMISSIONS}<TYPE>0</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>0</PERSISTENT><REGTIME>${this.#clock}</REGTIME><SOURCE>${cdata(`/var/lib/one//datastores/1/${i.id}`)}</SOURCE><PATH>${cdata(i.path)}</PATH><FORMAT>${cdata("raw")}</FORMAT><FS/><SIZE>2048</SIZE><STATE>${state}</STATE><PREV_STATE>${i.state}</PREV_STATE><RUNNING_VMS>${running}</RUNNING_VMS><CLONING_OPS>0</CLONING_OPS><CLONING_ID>-1</CLONING_ID><TARGET_SNAPSHOT>-1</TARGET_SNAPSHOT><DATASTORE_ID>${i.datastoreId}</DATASTORE_ID><DATASTORE>default</DATASTORE><VMS>${[...i.vms].map((v) => `<ID>${v}</ID>`).join("")}</VMS><CLONES/><APP_CLONES/>${templateXml({ ...i.template, ...error })}<SNAPSHOTS><ALLOW_ORPHANS>${cdata("NO")}</ALLOW_ORPHANS><CURRENT_BASE>${cdata("-1")}</CURRENT_BASE><NEXT_SNAPSHOT>${cdata("0")}</NEXT_SNAPSHOT></SNAPSHOTS></IMAGE>`;
  }

  // --- marketplace (include/MarketPlaceApp.h; TYPE 1 = IMAGE)
  #appXml(a: SimMarketApp): string {
    return `<MARKETPLACEAPP><ID>${a.id}</ID>${OWNER}<LOCK/><REGTIME>${this.#clock}</REGTIME><NAME>${escapeXml(a.name)}</NAME><ZONE_ID>${cdata("0")}</ZONE_ID><ORIGIN_ID>${cdata("-1")}</ORIGIN_ID><SOURCE>${cdata(a.source)}</SOURCE><MD5/><SIZE>${a.sizeMb}</SIZE><DESCRIPTION>${cdata("Downloaded from https://images.linuxcontainers.org")}</DESCRIPTION><VERSION>${cdata("1.0")}</VERSION><FORMAT>${cdata("raw")}</FORMAT><APPTEMPLATE64>${cdata(Buffer.from(a.appTemplate).toString("base64"))}</APPTEMPLATE64><MARKETPLACE_ID>${LINUX_CONTAINERS_MARKET.id}</MARKETPLACE_ID><MARKETPLACE>${cdata(LINUX_CONTAINERS_MARKET.name)}</MARKETPLACE><STATE>${a.state}</STATE><TYPE>1</TYPE>${PERMISSIONS}<TEMPLATE><PUBLISHER>${cdata("linuxcontainers.org")}</PUBLISHER><VMTEMPLATE64>${cdata(Buffer.from(a.vmTemplate).toString("base64"))}</VMTEMPLATE64></TEMPLATE></MARKETPLACEAPP>`;
  }

  // --- VM templates
  #allocateTemplate(t: Record<string, unknown>): number {
    const name = str(t, "NAME");
    this.#nameTaken(this.templates, name, "template", "VMTEMPLATE");
    const id = this.#next.template++;
    this.templates.push({ id, name, template: t, regtime: this.#clock++ });
    return id;
  }

  #templateXml(t: Template): string {
    return `<VMTEMPLATE><ID>${t.id}</ID>${OWNER}<NAME>${escapeXml(t.name)}</NAME><LOCK/>${PERMISSIONS}<REGTIME>${t.regtime}</REGTIME>${templateXml(t.template)}</VMTEMPLATE>`;
  }

  // --- VMs
  #instantiate(templateId: number, vmName: string, onHold: boolean, extra: string): number {
    const tpl = this.#find(this.templates, templateId, "Template");
    // src/rm/RequestManagerVMTemplate.cc: the extra template is merged over the template, attribute by attribute.
    const merged: Record<string, unknown> = {
      ...tpl.template,
      ...(extra.trim() ? parseTemplate(extra) : {}),
    };
    const images = this.#acquireDisks(merged);
    const id = this.#next.vm;
    const name = vmName || `${tpl.name}-${id}`;
    const nicsRaw = (merged.NIC as Record<string, unknown>[] | undefined) ?? [];
    const nics: Vm["nics"] = [];
    const taken: Array<{ ar: Ar; ip: string }> = [];
    try {
      for (const [nicId, nic] of nicsRaw.entries()) {
        const network = str(nic, "NETWORK");
        const vnet = this.vnets.find((v) => v.name === network || String(v.id) === str(nic, "NETWORK_ID"));
        if (!vnet) throw new ApiError(OneErrorCode.NO_EXISTS, `Error getting virtual network [${network}].`);
        const wanted = str(nic, "IP");
        const ar = wanted ? this.#arFor(vnet, wanted) : vnet.ars.find((a) => this.#freeIp(a) !== undefined);
        const ip = wanted || (ar ? this.#freeIp(ar) : undefined);
        if (!ar || !ip) {
          throw this.#allocateError(
            "virtual machine",
            `Cannot get IP/MAC lease from virtual network ${vnet.id}${wanted ? `: ${wanted} not in any address range` : ": no free leases"}.`,
          );
        }
        if (ar.leases.some((l) => l.ip === ip)) {
          throw this.#allocateError(
            "virtual machine",
            `Cannot get IP/MAC lease from virtual network ${vnet.id}: ${ip} is already in use.`,
          );
        }
        ar.leases.push({ ip, vm: id });
        taken.push({ ar, ip });
        nics.push({ nicId, ip, network: vnet.name, networkId: vnet.id, mac: macFor(ip) });
      }
    } catch (error) {
      for (const t of taken) t.ar.leases = t.ar.leases.filter((l) => !(l.ip === t.ip && l.vm === id));
      throw error;
    }
    this.#next.vm++;
    for (const image of images) image.vms.add(id);
    merged.NIC = nics.map((n) => ({
      ...(nicsRaw[n.nicId] ?? {}),
      IP: n.ip,
      MAC: n.mac,
      NETWORK: n.network,
      NETWORK_ID: String(n.networkId),
      NIC_ID: String(n.nicId),
      BRIDGE: this.vnets.find((v) => v.id === n.networkId)?.bridge ?? "",
    }));
    merged.VMID = String(id);
    if (merged.CONTEXT && typeof merged.CONTEXT === "object") {
      merged.CONTEXT = this.#context(merged.CONTEXT as Record<string, unknown>, nics, name);
    }
    this.vms.push({
      id,
      name,
      state: st.vm(onHold ? "HOLD" : "PENDING"),
      lcm: st.lcm("LCM_INIT"),
      ticks: 0,
      hostId: -1,
      template: merged,
      nics,
      imageIds: images.map((i) => i.id),
      stime: this.#clock++,
      etime: 0,
      steps: [],
      busy: false,
      blipped: false,
      hookSeq: 0,
    });
    return id;
  }

  /**
   * src/vm/VirtualMachineContext.cc generate_network_context: with NETWORK="YES", ETH<n>_IP, _MAC, _MASK, _GATEWAY,
   * _DNS … are (re)generated from the NIC, its address range and its virtual network, replacing what the template
   * set, empty values included. Hence GATEWAY/DNS/NETWORK_MASK must be on the vnet or AR, not only in CONTEXT.
   */
  #context(context: Record<string, unknown>, nics: Vm["nics"], name: string): Record<string, unknown> {
    const out = { ...context };
    if (str(context, "NETWORK") === "YES") {
      for (const [n, nic] of nics.entries()) {
        const { mask, gateway, dns } = this.#nicNet(nic);
        out[`ETH${n}_IP`] = nic.ip;
        out[`ETH${n}_MAC`] = nic.mac;
        out[`ETH${n}_MASK`] = mask;
        out[`ETH${n}_GATEWAY`] = gateway;
        out[`ETH${n}_DNS`] = dns;
        out[`ETH${n}_NETWORK`] = this.#nicNetworkAddress(nic);
      }
    }
    if (str(out, "SET_HOSTNAME") === "$NAME") out.SET_HOSTNAME = name;
    return out;
  }

  #nicNetworkAddress(nic: Vm["nics"][number]): string {
    const vnet = this.vnets.find((v) => v.id === nic.networkId);
    const ar = vnet ? this.#arFor(vnet, nic.ip) : undefined;
    return (
      (ar ? str(ar.attrs, "NETWORK_ADDRESS") : "") || (vnet ? str(vnet.template, "NETWORK_ADDRESS") : "")
    );
  }

  #nicNet(nic: Vm["nics"][number]): { mask: string; gateway: string; dns: string } {
    const vnet = this.vnets.find((v) => v.id === nic.networkId);
    const ar = vnet ? this.#arFor(vnet, nic.ip) : undefined;
    const pick = (key: string) => (ar ? str(ar.attrs, key) : "") || (vnet ? str(vnet.template, key) : "");
    return { mask: pick("NETWORK_MASK"), gateway: pick("GATEWAY"), dns: pick("DNS") };
  }

  /** Like oned (src/image/ImageManagerActions.cc acquire_image), refuses an image that is missing or not READY/USED. */
  #acquireDisks(merged: Record<string, unknown>): Image[] {
    const out: Image[] = [];
    for (const disk of (merged.DISK as Record<string, unknown>[] | undefined) ?? []) {
      const byName = str(disk, "IMAGE");
      const byId = str(disk, "IMAGE_ID");
      if (!byName && !byId) continue;
      const image = this.images.find((i) => (byName ? i.name === byName : String(i.id) === byId));
      if (!image) throw new ApiError(OneErrorCode.NO_EXISTS, `Error getting image [${byName || byId}].`);
      if (image.state !== st.image("READY") && image.state !== st.image("USED")) {
        throw this.#allocateError(
          "virtual machine",
          `Cannot acquire image ${image.id}, it is in state ${IMAGE_STATES[image.state]}.`,
        );
      }
      out.push(image);
    }
    return out;
  }

  #freeIp(ar: Ar): string | undefined {
    for (let i = 0; i < ar.size; i++) {
      const ip = formatIpv4(parseIpv4(ar.ip) + i);
      if (!ar.leases.some((l) => l.ip === ip)) return ip;
    }
    return undefined;
  }

  #set(vm: Vm, state: Step["state"], lcm: Step["lcm"]): void {
    vm.state = st.vm(state);
    vm.lcm = st.lcm(lcm);
  }

  /** Runs a driver call; the VM stays in its state until it settles, then goes on or to its failure state. */
  #run(vm: Vm, step: Step): void {
    if (!step.hook) return;
    vm.busy = true;
    const seq = ++vm.hookSeq;
    const done = step
      .hook()
      .then(
        () => {
          if (seq === vm.hookSeq) vm.busy = false;
        },
        (error: unknown) => {
          if (seq !== vm.hookSeq) return;
          vm.busy = false;
          vm.steps = [];
          if (step.onFail) vm.lcm = st.lcm(step.onFail);
          const verb =
            step.onFail === "BOOT_FAILURE"
              ? "deploy"
              : step.onFail === "EPILOG_FAILURE"
                ? "cancel"
                : "driver action";
          vm.error = `Error executing ${verb}: ${(error as Error)?.message ?? String(error)}`;
        },
      )
      .finally(() => this.#inFlight.delete(done));
    this.#inFlight.add(done);
  }

  #tickVm(vm: Vm): void {
    if (vm.state === st.vm("DONE") || vm.state === st.vm("HOLD") || vm.busy) return;
    if (++vm.ticks < this.options.ticksPerTransition) return;
    vm.ticks = 0;
    const next = vm.steps.shift();
    if (next) {
      this.#set(vm, next.state, next.lcm);
      this.#run(vm, next);
      next.after?.();
      return;
    }
    if (vm.state === st.vm("PENDING")) {
      this.#schedule(vm);
      return;
    }
    // src/vmm/VirtualMachineManager.cc / monitor: a VM whose monitoring is lost is ACTIVE/UNKNOWN until the next
    // successful poll; it is not a failure.
    if (vm.lcm === st.lcm("RUNNING") && this.options.unknownBlips.includes(vm.name) && !vm.blipped) {
      vm.blipped = true;
      vm.lcm = st.lcm("UNKNOWN");
      vm.steps.push({ state: "ACTIVE", lcm: "RUNNING" });
    }
  }

  /**
   * src/scheduler/src/sched/Scheduler.cc: a PENDING VM goes to a MONITORED host that matches its
   * SCHED_REQUIREMENTS (HYPERVISOR …). Without requirements any host will do, so a container can land on KVM,
   * whose deploy then fails.
   */
  #schedule(vm: Vm): void {
    const requirements = str(vm.template, "SCHED_REQUIREMENTS");
    let host: Host | undefined;
    try {
      host = this.hosts.find((h) => h.state === st.host("MONITORED") && matchesRequirements(h, requirements));
    } catch (error) {
      if (!(error instanceof SchedExpressionError)) throw error;
      vm.schedMessage = `Error evaluating SCHED_REQUIREMENTS: ${error.message}`;
      return;
    }
    if (!host) {
      vm.schedMessage = "Cannot dispatch VM: No host meets SCHED_REQUIREMENTS or no host is MONITORED";
      return;
    }
    delete vm.schedMessage;
    vm.hostId = host.id;
    const chosen = host;
    const prologFails = this.options.prologFailures.includes(vm.name);
    const containerOnVm = !["lxd", "lxc"].includes(chosen.vmMad) && this.#usesContainerImage(vm);
    this.#set(vm, "ACTIVE", "PROLOG");
    if (prologFails) {
      vm.steps = [{ state: "ACTIVE", lcm: "PROLOG_FAILURE" }];
      vm.error = "Error executing image transfer script: Error copying image to the host";
      return;
    }
    vm.steps = [
      {
        state: "ACTIVE",
        lcm: "BOOT",
        onFail: "BOOT_FAILURE",
        hook: async () => {
          if (this.options.bootFailures.includes(vm.name)) {
            throw new DriverFailure("lxc: failed to start container (Error: Failed to run: forkstart)");
          }
          if (containerOnVm) {
            throw new DriverFailure(
              `${chosen.vmMad}: the disk is a container root file system, no bootable device`,
            );
          }
          await this.hypervisor.deploy(this.#hypervisorVm(vm));
        },
      },
      { state: "ACTIVE", lcm: "RUNNING" },
    ];
  }

  #usesContainerImage(vm: Vm): boolean {
    return vm.imageIds.some((id) => this.images.find((i) => i.id === id)?.path.startsWith("lxd://"));
  }

  #hypervisorVm(vm: Vm): HypervisorVm {
    const context = Object.fromEntries(
      Object.entries((vm.template.CONTEXT ?? {}) as Record<string, unknown>).map(([k, v]) => [
        k,
        String(v ?? ""),
      ]),
    );
    const nics: SimNic[] = vm.nics.map((n, i) => {
      const net = this.#nicNet(n);
      return {
        name: `eth${i}`,
        ip: n.ip,
        mac: n.mac,
        network: n.network,
        mask: net.mask,
        ...(net.gateway ? { gateway: net.gateway } : {}),
        ...(net.dns ? { dns: net.dns } : {}),
      };
    });
    const image = this.images.find((i) => vm.imageIds.includes(i.id));
    return {
      id: vm.id,
      name: vm.name,
      context,
      nics,
      ...(image ? { imageSource: image.path } : {}),
      oneVersion: this.options.oneVersion,
    };
  }

  /** EPILOG → DONE: leases and images are released (src/lcm/LifeCycleStates.cc epilog_success_action). */
  #finish(vm: Vm): void {
    this.#set(vm, "DONE", "LCM_INIT");
    vm.etime = this.#clock++;
    for (const vnet of this.vnets)
      for (const ar of vnet.ars) ar.leases = ar.leases.filter((l) => l.vm !== vm.id);
    for (const image of this.images) image.vms.delete(vm.id);
  }

  #shutdownSteps(vm: Vm, first: Step["lcm"]): Step[] {
    const deployed = vm.hostId >= 0;
    return [
      {
        state: "ACTIVE",
        lcm: first,
        ...(deployed ? { hook: () => this.hypervisor.destroy(vm.id) } : {}),
        onFail: first === "CLEANUP_DELETE" ? "CLEANUP_DELETE" : "EPILOG_FAILURE",
      },
      ...(first === "CLEANUP_DELETE" ? [] : [{ state: "ACTIVE" as const, lcm: "EPILOG" as const }]),
      { state: "DONE", lcm: "LCM_INIT", after: () => this.#finish(vm) },
    ];
  }

  /** src/lcm/LifeCycleActions.cc delete: a deployed VM is cleaned up on its host (CLEANUP_DELETE), then DONE. */
  #deleteVm(vm: Vm): void {
    if (vm.state !== st.vm("ACTIVE")) {
      this.#finish(vm);
      return;
    }
    vm.busy = false;
    vm.steps = this.#shutdownSteps(vm, "CLEANUP_DELETE");
    vm.ticks = 0;
    this.#set(vm, "ACTIVE", "CLEANUP_DELETE");
    this.#run(vm, vm.steps.shift()!);
  }

  #wrongState(vm: Vm, action: string): ApiError {
    const label =
      vm.state === st.vm("ACTIVE") ? `${VM_STATES[vm.state]}/${LCM_STATES[vm.lcm]}` : VM_STATES[vm.state];
    return new ApiError(
      OneErrorCode.ACTION,
      `Error performing action "${action}" on virtual machine [${vm.id}]. This action is not available for state ${label}`,
    );
  }

  /** src/dm/DispatchManagerActions.cc: which states allow which action, and which are answered at once. */
  #vmAction(action: string, id: number): number {
    const vm = this.#find(this.vms, id, "VM");
    const state = VM_STATES[vm.state]!;
    const lcm = LCM_STATES[vm.lcm]!;
    const running = state === "ACTIVE" && TERMINATE_OK_LCM.has(lcm);
    switch (action) {
      case "terminate":
      case "terminate-hard": {
        if (state === "DONE") return id;
        if (TERMINATE_AT_ONCE_STATES.has(state)) {
          this.#finish(vm);
          return id;
        }
        if (state === "ACTIVE" && TERMINATE_DELETES_LCM.has(lcm)) {
          this.#deleteVm(vm);
          return id;
        }
        // A hard terminate overrides a (probably frozen) shutdown; anything else mid-transition is refused with
        // "Could not terminate VM <id>, wrong state ACTIVE." and the VM goes on to RUNNING or DONE by itself.
        const again = action === "terminate-hard" && state === "ACTIVE" && lcm === "SHUTDOWN";
        if (!running && !again && !TERMINATE_OK_STATES.has(state)) {
          throw new ApiError(OneErrorCode.ACTION, `Could not terminate VM ${id}, wrong state ${state}.`);
        }
        // Asynchronous: the call returns now; SHUTDOWN (driver cancel/shutdown) → EPILOG → DONE follow.
        vm.steps = this.#shutdownSteps(vm, "SHUTDOWN");
        this.#set(vm, "ACTIVE", "SHUTDOWN");
        vm.ticks = 0;
        this.#run(vm, vm.steps.shift()!);
        return id;
      }
      case "poweroff":
      case "poweroff-hard":
        if (!running) throw this.#wrongState(vm, action);
        vm.steps = [{ state: "POWEROFF", lcm: "LCM_INIT" }];
        this.#set(vm, "ACTIVE", "SHUTDOWN_POWEROFF");
        this.#run(vm, {
          state: "ACTIVE",
          lcm: "SHUTDOWN_POWEROFF",
          onFail: "RUNNING",
          hook: () => this.hypervisor.poweroff(id, action === "poweroff-hard"),
        });
        return id;
      case "suspend":
        if (!(state === "ACTIVE" && lcm === "RUNNING")) throw this.#wrongState(vm, action);
        vm.steps = [{ state: "SUSPENDED", lcm: "LCM_INIT" }];
        this.#set(vm, "ACTIVE", "SAVE_SUSPEND");
        this.#run(vm, {
          state: "ACTIVE",
          lcm: "SAVE_SUSPEND",
          onFail: "RUNNING",
          hook: () => this.hypervisor.suspend(id),
        });
        return id;
      case "resume": {
        if (state !== "POWEROFF" && state !== "SUSPENDED") throw this.#wrongState(vm, action);
        const boot = state === "POWEROFF" ? "BOOT_POWEROFF" : "BOOT_SUSPENDED";
        vm.steps = [{ state: "ACTIVE", lcm: "RUNNING" }];
        this.#set(vm, "ACTIVE", boot);
        this.#run(vm, {
          state: "ACTIVE",
          lcm: boot,
          onFail: "BOOT_FAILURE",
          hook: () => this.hypervisor.resume(id),
        });
        return id;
      }
      default:
        throw new ApiError(OneErrorCode.ACTION, `Action ${action} is not simulated.`);
    }
  }

  /**
   * src/rm/RequestManagerVirtualMachine.cc VirtualMachineRecover + src/lcm/LifeCycleActions.cc: 0 failure,
   * 1 success, 2 retry (of a *_FAILURE state), 3 delete (any state but DONE: CLEANUP_DELETE → DONE).
   */
  #vmRecover(id: number, op: number): number {
    const vm = this.#find(this.vms, id, "VM");
    const lcm = LCM_STATES[vm.lcm]!;
    if (vm.state === st.vm("DONE")) throw this.#wrongState(vm, "recover");
    switch (op) {
      case 3:
        this.#deleteVm(vm);
        return id;
      case 2: {
        if (!lcm.endsWith("_FAILURE")) throw this.#wrongState(vm, "recover retry");
        delete vm.error;
        const again = lcm.replace(/_FAILURE$/, "") as Step["lcm"];
        if (again === "BOOT" || again === "PROLOG") {
          vm.state = st.vm("PENDING");
          vm.lcm = st.lcm("LCM_INIT");
          vm.steps = [];
          return id;
        }
        vm.steps = [{ state: "ACTIVE", lcm: again }];
        return id;
      }
      case 0:
      case 1: {
        if (!["PROLOG", "BOOT", "EPILOG", "SHUTDOWN"].includes(lcm)) throw this.#wrongState(vm, "recover");
        // The pending driver call is abandoned either way: its late answer must not move the VM again.
        vm.hookSeq++;
        vm.busy = false;
        if (op === 0) {
          vm.steps = [];
          vm.lcm = st.lcm(`${lcm}_FAILURE` as Step["lcm"]);
        }
        return id;
      }
      default:
        throw new ApiError(OneErrorCode.ACTION, `Recover operation ${op} is not simulated.`);
    }
  }

  /**
   * `short`: the pool's short VM body (the API reference: TEMPLATE and USER_TEMPLATE "are limited in this
   * call"): no CONTEXT or other attributes, only the NICs, disks and sizes, so a client relying on more fails.
   */
  #vmXml(vm: Vm, short = false): string {
    const template = short
      ? Object.fromEntries(Object.entries(vm.template).filter(([k]) => SHORT_VM_TEMPLATE.has(k)))
      : vm.template;
    const host = this.hosts.find((h) => h.id === vm.hostId);
    const history = host
      ? `<HISTORY_RECORDS><HISTORY><OID>${vm.id}</OID><SEQ>0</SEQ><HOSTNAME>${escapeXml(host.name)}</HOSTNAME><HID>${host.id}</HID><CID>0</CID><STIME>${vm.stime}</STIME><ETIME>${vm.etime}</ETIME><VM_MAD>${cdata(host.vmMad)}</VM_MAD><TM_MAD>${cdata("ssh")}</TM_MAD><DS_ID>0</DS_ID><ACTION>0</ACTION></HISTORY></HISTORY_RECORDS>`
      : "<HISTORY_RECORDS/>";
    const user = {
      ...(vm.error ? { ERROR: vm.error } : {}),
      ...(vm.schedMessage ? { SCHED_MESSAGE: vm.schedMessage } : {}),
    };
    return `<VM><ID>${vm.id}</ID>${OWNER}<NAME>${escapeXml(vm.name)}</NAME>${PERMISSIONS}<LAST_POLL>0</LAST_POLL><STATE>${vm.state}</STATE><LCM_STATE>${vm.lcm}</LCM_STATE><PREV_STATE>${vm.state}</PREV_STATE><PREV_LCM_STATE>${vm.lcm}</PREV_LCM_STATE><RESCHED>0</RESCHED><STIME>${vm.stime}</STIME><ETIME>${vm.etime}</ETIME><DEPLOY_ID>${vm.hostId >= 0 ? `one-${vm.id}` : ""}</DEPLOY_ID><MONITORING/>${short ? "" : "<SCHED_ACTIONS/>"}${templateXml(template)}${templateXml(user, "USER_TEMPLATE")}${history}</VM>`;
  }
}
