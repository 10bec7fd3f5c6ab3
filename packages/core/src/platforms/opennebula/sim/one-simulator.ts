import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { XMLParser } from "fast-xml-parser";
import { OneErrorCode } from "../one-errors.js";
import { HOST_STATES, IMAGE_STATES, LCM_STATES, stateValue, VM_STATES, VNET_STATES } from "../states.js";
import {
  decodeMethodCall,
  encodeFault,
  encodeMethodResponse,
  escapeXml,
  type XmlRpcValue,
} from "../xmlrpc.js";

/**
 * A protocol-level OpenNebula simulator for tests: a real HTTP server on 127.0.0.1 speaking
 * XML-RPC at /RPC2, with the response arrays, error codes and state machines of the API reference
 * and documents shaped like the XSDs (host.xsd, vm.xsd, vnet.xsd, image.xsd, vmtemplate.xsd).
 * Templates are accepted as XML (<TEMPLATE>...); `KEY = value` text is refused with XML_RPC_API,
 * which is a documented simplification: the client always sends XML.
 * Asynchronous operations advance one state per info call on the resource (a "monitoring tick").
 */
export interface OneSimulatorOptions {
  /** Accepted users: name → password. Default { oneadmin: "opennebula" }. */
  users?: Record<string, string>;
  /** "6.8.0" (LXD driver) or "6.10.0" (LXC driver only). Default "6.8.0". */
  version?: string;
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
  /** Images (by name) that end in ERROR. */
  failingImages?: string[];
  /** Virtual networks (by name) whose driver fails to set them up: they are in ERROR once allocated. */
  failingVnets?: string[];
  /** Info calls per transition (default 1). */
  ticksPerTransition?: number;
}

interface SimHost {
  id: number;
  name: string;
  imMad: string;
  vmMad: string;
  clusterId: number;
  state: number;
  fails: boolean;
  ticks: number;
  recoverIn?: number;
}
interface SimLease {
  ip: string;
  vm: number;
}
interface SimAr {
  arId: number;
  type: string;
  ip: string;
  size: number;
  leases: SimLease[];
}
interface SimVnet {
  id: number;
  name: string;
  bridge: string;
  vnMad: string;
  state: number;
  ars: SimAr[];
  template: Record<string, unknown>;
}
interface SimImage {
  id: number;
  name: string;
  datastoreId: number;
  path: string;
  state: number;
  ticks: number;
  template: Record<string, unknown>;
}
interface SimTemplate {
  id: number;
  name: string;
  template: Record<string, unknown>;
  regtime: number;
}
interface SimVm {
  id: number;
  name: string;
  state: number;
  lcm: number;
  ticks: number;
  hostId: number;
  template: Record<string, unknown>;
  nics: Array<{ nicId: number; ip: string; network: string; networkId: number; mac: string }>;
  error?: string;
  stime: number;
}

const st = {
  host: (n: (typeof HOST_STATES)[number]) => stateValue(HOST_STATES, n),
  vm: (n: (typeof VM_STATES)[number]) => stateValue(VM_STATES, n),
  lcm: (n: (typeof LCM_STATES)[number]) => stateValue(LCM_STATES, n),
  image: (n: (typeof IMAGE_STATES)[number]) => stateValue(IMAGE_STATES, n),
  vnet: (n: (typeof VNET_STATES)[number]) => stateValue(VNET_STATES, n),
};

class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parameter signatures as in the reference: s string, i int, b boolean; "?" marks optional ones. */
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

const templateParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name, jpath) => String(jpath).split(".").length === 2 && ["NIC", "AR", "DISK"].includes(name),
});

function parseTemplate(text: string): Record<string, unknown> {
  if (!text.trim().startsWith("<")) {
    throw new ApiError(
      OneErrorCode.XML_RPC_API,
      "Simulator accepts XML templates only (<TEMPLATE>...</TEMPLATE>)",
    );
  }
  let doc: Record<string, unknown>;
  try {
    doc = templateParser.parse(text, true) as Record<string, unknown>;
  } catch (error) {
    throw new ApiError(OneErrorCode.INTERNAL, `Parse error: ${(error as Error).message}`);
  }
  const t = doc.TEMPLATE;
  if (t === "") return {};
  if (!t || typeof t !== "object")
    throw new ApiError(OneErrorCode.INTERNAL, "Parse error: root element must be TEMPLATE");
  return t as Record<string, unknown>;
}

/** OpenNebula writes template values as CDATA; so do we, so clients must cope with it. */
function cdata(value: string): string {
  return `<![CDATA[${value.replace(/]]>/g, "]]]]><![CDATA[>")}]]>`;
}

function templateXml(obj: Record<string, unknown>, root = "TEMPLATE"): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(obj)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      parts.push(
        v && typeof v === "object"
          ? templateXml(v as Record<string, unknown>, key)
          : `<${key}>${cdata(String(v ?? ""))}</${key}>`,
      );
    }
  }
  return `<${root}>${parts.join("")}</${root}>`;
}

function str(obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  return typeof v === "string" ? v : "";
}

function ipToInt(ip: string): number {
  const parts = ip.split(".").map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}
function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
function macFor(ip: string): string {
  const n = ipToInt(ip);
  return `02:00:${[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

/** What one.vmpool.info keeps of a VM's TEMPLATE. */
const SHORT_VM_TEMPLATE = new Set(["CPU", "VCPU", "MEMORY", "DISK", "NIC", "NIC_ALIAS", "GRAPHICS"]);

const PERMISSIONS =
  "<PERMISSIONS><OWNER_U>1</OWNER_U><OWNER_M>1</OWNER_M><OWNER_A>0</OWNER_A><GROUP_U>0</GROUP_U><GROUP_M>0</GROUP_M><GROUP_A>0</GROUP_A><OTHER_U>0</OTHER_U><OTHER_M>0</OTHER_M><OTHER_A>0</OTHER_A></PERMISSIONS>";
const OWNER = "<UID>0</UID><GID>0</GID><UNAME>oneadmin</UNAME><GNAME>oneadmin</GNAME>";

export interface SimulatorCall {
  method: string;
  /** Parameters without the session. */
  params: XmlRpcValue[];
  ok: boolean;
}

export class OneSimulator {
  readonly calls: SimulatorCall[] = [];
  /** Raw request bodies (they carry the session, as on the wire). */
  readonly requests: string[] = [];
  readonly options: Required<Omit<OneSimulatorOptions, "hosts">>;
  hosts: SimHost[] = [];
  vnets: SimVnet[] = [];
  images: SimImage[] = [];
  templates: SimTemplate[] = [];
  vms: SimVm[] = [];
  #next = { host: 0, vnet: 0, image: 0, template: 0, vm: 0 };
  #server: Server | undefined;
  #port = 0;
  #clock = 1_700_000_000;

  constructor(options: OneSimulatorOptions = {}) {
    this.options = {
      users: options.users ?? { oneadmin: "opennebula" },
      version: options.version ?? "6.8.0",
      failingHosts: options.failingHosts ?? [],
      bootFailures: options.bootFailures ?? [],
      prologFailures: options.prologFailures ?? [],
      failingImages: options.failingImages ?? [],
      failingVnets: options.failingVnets ?? [],
      ticksPerTransition: options.ticksPerTransition ?? 1,
    };
    for (const h of options.hosts ?? []) {
      const id = this.#next.host++;
      this.hosts.push({
        id,
        name: h.name,
        imMad: h.vmMad ?? this.#defaultDriver(),
        vmMad: h.vmMad ?? this.#defaultDriver(),
        clusterId: 0,
        state: st.host(h.state ?? (h.fails ? "ERROR" : "MONITORED")),
        fails: h.fails ?? false,
        ticks: 0,
        ...(h.recoverAfter === undefined ? {} : { recoverIn: h.recoverAfter }),
      });
    }
  }

  #defaultDriver(): string {
    return this.#isLxcOnly() ? "lxc" : "lxd";
  }

  #isLxcOnly(): boolean {
    const [major, minor] = this.options.version.split(".").map(Number);
    return (major ?? 0) > 6 || ((major ?? 0) === 6 && (minor ?? 0) >= 10);
  }

  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.#handle(req, res));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    this.#port = (server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.#port}/RPC2`;
  }

  /** Like `systemctl restart opennebula`: nothing answers for `downMs`, then oned is back with its state. */
  async restart(downMs: number): Promise<void> {
    const port = this.#port;
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start(port);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Count of successful calls of a method (e.g. how many VMs were instantiated). */
  count(method: string): number {
    return this.calls.filter((c) => c.method === method && c.ok).length;
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
      send(200, encodeMethodResponse([true, result, 0]));
    } catch (error) {
      this.calls.push({ method: call.method, params, ok: false });
      if (!(error instanceof ApiError)) return send(500, "internal simulator error");
      send(200, encodeMethodResponse([false, `[${call.method}] ${error.message}`, error.code, -1]));
    }
  }

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
        return this.options.version;
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
      case "one.image.delete": {
        const image = this.#find(this.images, int(0), "Image");
        this.images = this.images.filter((i) => i !== image);
        return image.id;
      }
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

  #nameTaken(list: Array<{ name: string; id: number }>, name: string, what: string): void {
    if (!name)
      throw new ApiError(OneErrorCode.ALLOCATE, `Error allocating a new ${what}. No NAME in template.`);
    const other = list.find((x) => x.name === name);
    if (other)
      throw new ApiError(
        OneErrorCode.ALLOCATE,
        `Error allocating a new ${what}. NAME is already taken by ${what} ${other.id}.`,
      );
  }

  // --- hosts: INIT → (MONITORING_INIT) → MONITORED | ERROR
  #allocateHost(name: string, imMad: string, vmMad: string, clusterId: number): number {
    this.#nameTaken(this.hosts, name, "HOST");
    const drivers = this.#isLxcOnly()
      ? ["lxc", "kvm", "qemu", "firecracker"]
      : ["lxd", "kvm", "qemu", "firecracker"];
    if (!drivers.includes(vmMad) || !drivers.includes(imMad)) {
      throw new ApiError(
        OneErrorCode.ALLOCATE,
        `Error allocating a new host. Driver ${vmMad} is not defined in oned.conf (OpenNebula ${this.options.version} knows ${drivers.join(", ")}).`,
      );
    }
    const id = this.#next.host++;
    this.hosts.push({
      id,
      name,
      imMad,
      vmMad,
      clusterId: Math.max(clusterId, 0),
      state: st.host("INIT"),
      fails: this.options.failingHosts.includes(name),
      ticks: 0,
    });
    return id;
  }

  #tickHost(h: SimHost): void {
    if (h.state === st.host("ERROR") && h.recoverIn !== undefined) {
      if (--h.recoverIn > 0) return;
      h.state = st.host("MONITORED");
      h.fails = false;
      delete h.recoverIn;
      return;
    }
    if (h.state !== st.host("INIT") && h.state !== st.host("MONITORING_INIT")) return;
    if (++h.ticks < this.options.ticksPerTransition) return;
    h.ticks = 0;
    if (h.state === st.host("INIT")) h.state = st.host("MONITORING_INIT");
    else h.state = st.host(h.fails ? "ERROR" : "MONITORED");
  }

  #hostXml(h: SimHost): string {
    const vms = this.vms.filter((vm) => vm.hostId === h.id && vm.state !== st.vm("DONE"));
    const error =
      h.state === st.host("ERROR")
        ? `<ERROR>${cdata(`Fri Nov 20 10:00:00 2026 : Error monitoring Host ${h.name} (${h.id}): Error executing monitor: lxc: Permission denied (oneadmin cannot open /var/snap/lxd/common/lxd/unix.socket)`)}</ERROR>`
        : "";
    return `<HOST><ID>${h.id}</ID><NAME>${escapeXml(h.name)}</NAME><STATE>${h.state}</STATE><PREV_STATE>${h.state}</PREV_STATE><IM_MAD>${cdata(h.imMad)}</IM_MAD><VM_MAD>${cdata(h.vmMad)}</VM_MAD><CLUSTER_ID>${h.clusterId}</CLUSTER_ID><CLUSTER>default</CLUSTER><HOST_SHARE><MEM_USAGE>0</MEM_USAGE><CPU_USAGE>0</CPU_USAGE><TOTAL_MEM>8388608</TOTAL_MEM><TOTAL_CPU>400</TOTAL_CPU><MAX_MEM>8388608</MAX_MEM><MAX_CPU>400</MAX_CPU><RUNNING_VMS>${vms.length}</RUNNING_VMS></HOST_SHARE><VMS>${vms.map((vm) => `<ID>${vm.id}</ID>`).join("")}</VMS><TEMPLATE>${error}<HOSTNAME>${cdata(h.name)}</HOSTNAME><HYPERVISOR>${cdata(h.vmMad)}</HYPERVISOR></TEMPLATE><MONITORING/></HOST>`;
  }

  // --- virtual networks
  #allocateVnet(t: Record<string, unknown>): number {
    const name = str(t, "NAME");
    this.#nameTaken(this.vnets, name, "NET");
    const vnMad = str(t, "VN_MAD");
    if (!vnMad)
      throw new ApiError(
        OneErrorCode.ALLOCATE,
        "Error allocating a new virtual network. No VN_MAD in template.",
      );
    const bridge = str(t, "BRIDGE") || `onebr${this.#next.vnet}`;
    const arsRaw = (t.AR as Record<string, unknown>[] | undefined) ?? [];
    const ars: SimAr[] = arsRaw.map((ar, arId) => {
      const type = str(ar, "TYPE");
      const ip = str(ar, "IP");
      const size = Number.parseInt(str(ar, "SIZE"), 10);
      if (type !== "IP4" || !/^\d+\.\d+\.\d+\.\d+$/.test(ip) || !(size > 0)) {
        throw new ApiError(
          OneErrorCode.ALLOCATE,
          `Error allocating a new virtual network. Invalid AR definition (TYPE=${type}, IP=${ip}, SIZE=${size}).`,
        );
      }
      return { arId, type, ip, size, leases: [] };
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
    if (vnet.ars.some((ar) => ar.leases.some((l) => l.vm >= 0))) {
      throw new ApiError(OneErrorCode.ACTION, `Cannot delete virtual network ${id}: it has leases in use.`);
    }
    this.vnets = this.vnets.filter((v) => v !== vnet);
    return id;
  }

  #arFor(vnet: SimVnet, ip: string): SimAr | undefined {
    const n = ipToInt(ip);
    return vnet.ars.find((ar) => n >= ipToInt(ar.ip) && n < ipToInt(ar.ip) + ar.size);
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

  #vnetXml(v: SimVnet): string {
    const used = v.ars.reduce((n, ar) => n + ar.leases.length, 0);
    const ars = v.ars
      .map(
        (ar) =>
          `<AR><AR_ID>${cdata(String(ar.arId))}</AR_ID><IP>${cdata(ar.ip)}</IP><IP_END>${cdata(intToIp(ipToInt(ar.ip) + ar.size - 1))}</IP_END><MAC>${cdata(macFor(ar.ip))}</MAC><SIZE>${cdata(String(ar.size))}</SIZE><TYPE>${cdata(ar.type)}</TYPE><USED_LEASES>${ar.leases.length}</USED_LEASES><LEASES>${ar.leases.map((l) => `<LEASE><IP>${cdata(l.ip)}</IP><MAC>${cdata(macFor(l.ip))}</MAC>${l.vm >= 0 ? `<VM>${cdata(String(l.vm))}</VM>` : `<VM>${cdata("-1")}</VM>`}</LEASE>`).join("")}</LEASES></AR>`,
      )
      .join("");
    return `<VNET><ID>${v.id}</ID>${OWNER}<NAME>${escapeXml(v.name)}</NAME><LOCK/>${PERMISSIONS}<CLUSTERS><ID>0</ID></CLUSTERS><BRIDGE>${cdata(v.bridge)}</BRIDGE><BRIDGE_TYPE>${cdata("linux")}</BRIDGE_TYPE><STATE>${v.state}</STATE><PREV_STATE>0</PREV_STATE><PARENT_NETWORK_ID/><VN_MAD>${cdata(v.vnMad)}</VN_MAD><PHYDEV/><VLAN_ID/><OUTER_VLAN_ID/><VLAN_ID_AUTOMATIC>0</VLAN_ID_AUTOMATIC><OUTER_VLAN_ID_AUTOMATIC>0</OUTER_VLAN_ID_AUTOMATIC><USED_LEASES>${used}</USED_LEASES><VROUTERS/><UPDATED_VMS/><OUTDATED_VMS/><UPDATING_VMS/><ERROR_VMS/>${templateXml(v.template)}<AR_POOL>${ars}</AR_POOL></VNET>`;
  }

  // --- images: LOCKED → READY | ERROR
  #allocateImage(t: Record<string, unknown>, datastoreId: number): number {
    const name = str(t, "NAME");
    this.#nameTaken(this.images, name, "IMAGE");
    if (datastoreId !== 1)
      throw new ApiError(OneErrorCode.NO_EXISTS, `Error getting datastore [${datastoreId}].`);
    const path = str(t, "PATH");
    if (!path && !str(t, "SOURCE"))
      throw new ApiError(
        OneErrorCode.ALLOCATE,
        "Error allocating a new image. No PATH nor SOURCE in template.",
      );
    const id = this.#next.image++;
    this.images.push({ id, name, datastoreId, path, state: st.image("LOCKED"), ticks: 0, template: t });
    return id;
  }

  #tickImage(i: SimImage): void {
    if (i.state !== st.image("LOCKED")) return;
    if (++i.ticks < this.options.ticksPerTransition) return;
    i.state = st.image(this.options.failingImages.includes(i.name) ? "ERROR" : "READY");
  }

  #imageXml(i: SimImage): string {
    const error =
      i.state === st.image("ERROR")
        ? { ERROR: `Error copying image in the datastore: cannot download ${i.path}` }
        : {};
    const running = this.vms.filter(
      (vm) => vm.state !== st.vm("DONE") && JSON.stringify(vm.template.DISK ?? "").includes(`"${i.name}"`),
    ).length;
    const state = i.state === st.image("READY") && running > 0 ? st.image("USED") : i.state;
    return `<IMAGE><ID>${i.id}</ID>${OWNER}<NAME>${escapeXml(i.name)}</NAME><LOCK/>${PERMISSIONS}<TYPE>0</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>0</PERSISTENT><REGTIME>${this.#clock}</REGTIME><SOURCE>${cdata(`/var/lib/one//datastores/1/${i.id}`)}</SOURCE><PATH>${cdata(i.path)}</PATH><FORMAT>${cdata("raw")}</FORMAT><FS/><SIZE>2048</SIZE><STATE>${state}</STATE><PREV_STATE>${i.state}</PREV_STATE><RUNNING_VMS>${running}</RUNNING_VMS><CLONING_OPS>0</CLONING_OPS><CLONING_ID>-1</CLONING_ID><TARGET_SNAPSHOT>-1</TARGET_SNAPSHOT><DATASTORE_ID>${i.datastoreId}</DATASTORE_ID><DATASTORE>default</DATASTORE><VMS/><CLONES/><APP_CLONES/>${templateXml({ ...i.template, ...error })}<SNAPSHOTS><ALLOW_ORPHANS>${cdata("NO")}</ALLOW_ORPHANS><CURRENT_BASE>${cdata("-1")}</CURRENT_BASE><NEXT_SNAPSHOT>${cdata("0")}</NEXT_SNAPSHOT></SNAPSHOTS></IMAGE>`;
  }

  // --- VM templates
  #allocateTemplate(t: Record<string, unknown>): number {
    const name = str(t, "NAME");
    this.#nameTaken(this.templates, name, "VMTEMPLATE");
    const id = this.#next.template++;
    this.templates.push({ id, name, template: t, regtime: this.#clock++ });
    return id;
  }

  #templateXml(t: SimTemplate): string {
    return `<VMTEMPLATE><ID>${t.id}</ID>${OWNER}<NAME>${escapeXml(t.name)}</NAME><LOCK/>${PERMISSIONS}<REGTIME>${t.regtime}</REGTIME>${templateXml(t.template)}</VMTEMPLATE>`;
  }

  // --- VMs: PENDING → ACTIVE/PROLOG → ACTIVE/BOOT → ACTIVE/RUNNING (or *_FAILURE)
  #instantiate(templateId: number, vmName: string, onHold: boolean, extra: string): number {
    const tpl = this.#find(this.templates, templateId, "Template");
    const merged: Record<string, unknown> = {
      ...tpl.template,
      ...(extra.trim() ? parseTemplate(extra) : {}),
    };
    this.#acquireDisks(merged);
    const id = this.#next.vm;
    const name = vmName || `${tpl.name}-${id}`;
    const nicsRaw = (merged.NIC as Record<string, unknown>[] | undefined) ?? [];
    const nics: SimVm["nics"] = [];
    for (const [nicId, nic] of nicsRaw.entries()) {
      const network = str(nic, "NETWORK");
      const vnet = this.vnets.find((v) => v.name === network || String(v.id) === str(nic, "NETWORK_ID"));
      if (!vnet) throw new ApiError(OneErrorCode.NO_EXISTS, `Error getting virtual network [${network}].`);
      const wanted = str(nic, "IP");
      let ip = wanted;
      if (wanted) {
        const ar = this.#arFor(vnet, wanted);
        if (!ar)
          throw new ApiError(
            OneErrorCode.ALLOCATE,
            `Cannot get IP/MAC lease from virtual network ${vnet.id}: ${wanted} not in any address range.`,
          );
        if (ar.leases.some((l) => l.ip === wanted)) {
          throw new ApiError(
            OneErrorCode.ALLOCATE,
            `Cannot get IP/MAC lease from virtual network ${vnet.id}: ${wanted} is already in use.`,
          );
        }
        ar.leases.push({ ip: wanted, vm: id });
      } else {
        ip = this.#freeLease(vnet, id);
      }
      nics.push({ nicId, ip, network: vnet.name, networkId: vnet.id, mac: macFor(ip) });
    }
    this.#next.vm++;
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
    this.vms.push({
      id,
      name,
      state: st.vm(onHold ? "HOLD" : "PENDING"),
      lcm: st.lcm("LCM_INIT"),
      ticks: 0,
      hostId: -1,
      template: merged,
      nics,
      stime: this.#clock++,
    });
    return id;
  }

  /** Like oned, refuses a VM whose DISK names an image that does not exist or is not READY/USED yet. */
  #acquireDisks(merged: Record<string, unknown>): void {
    for (const disk of (merged.DISK as Record<string, unknown>[] | undefined) ?? []) {
      const byName = str(disk, "IMAGE");
      const byId = str(disk, "IMAGE_ID");
      if (!byName && !byId) continue;
      const image = this.images.find((i) => (byName ? i.name === byName : String(i.id) === byId));
      if (!image) throw new ApiError(OneErrorCode.NO_EXISTS, `Error getting image [${byName || byId}].`);
      if (image.state !== st.image("READY") && image.state !== st.image("USED")) {
        throw new ApiError(
          OneErrorCode.ALLOCATE,
          `Error allocating a new virtual machine. Cannot acquire image ${image.id}, it is in state ${IMAGE_STATES[image.state]}.`,
        );
      }
    }
  }

  #freeLease(vnet: SimVnet, vmId: number): string {
    for (const ar of vnet.ars) {
      for (let i = 0; i < ar.size; i++) {
        const ip = intToIp(ipToInt(ar.ip) + i);
        if (!ar.leases.some((l) => l.ip === ip)) {
          ar.leases.push({ ip, vm: vmId });
          return ip;
        }
      }
    }
    throw new ApiError(
      OneErrorCode.ALLOCATE,
      `Cannot get IP/MAC lease from virtual network ${vnet.id}: no free leases.`,
    );
  }

  #tickVm(vm: SimVm): void {
    if (vm.state === st.vm("DONE") || vm.state === st.vm("HOLD")) return;
    if (++vm.ticks < this.options.ticksPerTransition) return;
    vm.ticks = 0;
    if (vm.state === st.vm("PENDING")) {
      // The scheduler only deploys on a MONITORED host whose driver can run containers.
      const host = this.hosts.find((h) => h.state === st.host("MONITORED"));
      if (!host) return;
      vm.hostId = host.id;
      vm.state = st.vm("ACTIVE");
      vm.lcm = st.lcm("PROLOG");
      return;
    }
    if (vm.state !== st.vm("ACTIVE")) return;
    if (vm.lcm === st.lcm("PROLOG")) {
      if (this.options.prologFailures.includes(vm.name)) {
        vm.lcm = st.lcm("PROLOG_FAILURE");
        vm.error = "Error executing image transfer script: Error copying image to the host";
      } else vm.lcm = st.lcm("BOOT");
    } else if (vm.lcm === st.lcm("BOOT")) {
      if (this.options.bootFailures.includes(vm.name)) {
        vm.lcm = st.lcm("BOOT_FAILURE");
        vm.error = "Error executing deploy: lxc: failed to start container (Error: Failed to run: forkstart)";
      } else vm.lcm = st.lcm("RUNNING");
    }
  }

  #vmAction(action: string, id: number): number {
    const vm = this.#find(this.vms, id, "VM");
    if (action === "terminate-hard" || action === "terminate") {
      if (vm.state === st.vm("DONE"))
        throw new ApiError(OneErrorCode.ACTION, `Error performing action "${action}": wrong state DONE.`);
      if (action === "terminate" && !(vm.state === st.vm("ACTIVE") && vm.lcm === st.lcm("RUNNING"))) {
        throw new ApiError(
          OneErrorCode.ACTION,
          `Error performing action "terminate": This action is not available for state ${VM_STATES[vm.state]}/${LCM_STATES[vm.lcm]}.`,
        );
      }
      vm.state = st.vm("DONE");
      vm.lcm = st.lcm("LCM_INIT");
      for (const vnet of this.vnets)
        for (const ar of vnet.ars) ar.leases = ar.leases.filter((l) => l.vm !== vm.id);
      return id;
    }
    throw new ApiError(OneErrorCode.ACTION, `Action ${action} is not simulated.`);
  }

  /**
   * `short`: the pool's short VM body (the API reference: TEMPLATE and USER_TEMPLATE "are limited in this
   * call"): no CONTEXT or other attributes, only the NICs, disks and sizes, so a client relying on more fails.
   */
  #vmXml(vm: SimVm, short = false): string {
    const template = short
      ? Object.fromEntries(Object.entries(vm.template).filter(([k]) => SHORT_VM_TEMPLATE.has(k)))
      : vm.template;
    const host = this.hosts.find((h) => h.id === vm.hostId);
    const history = host
      ? `<HISTORY_RECORDS><HISTORY><OID>${vm.id}</OID><SEQ>0</SEQ><HOSTNAME>${escapeXml(host.name)}</HOSTNAME><HID>${host.id}</HID><CID>0</CID><STIME>${vm.stime}</STIME><ETIME>0</ETIME><VM_MAD>${cdata(host.vmMad)}</VM_MAD><TM_MAD>${cdata("ssh")}</TM_MAD><DS_ID>0</DS_ID><ACTION>0</ACTION></HISTORY></HISTORY_RECORDS>`
      : "<HISTORY_RECORDS/>";
    const userTemplate = vm.error
      ? `<USER_TEMPLATE><ERROR>${cdata(vm.error)}</ERROR></USER_TEMPLATE>`
      : "<USER_TEMPLATE/>";
    return `<VM><ID>${vm.id}</ID>${OWNER}<NAME>${escapeXml(vm.name)}</NAME>${PERMISSIONS}<LAST_POLL>0</LAST_POLL><STATE>${vm.state}</STATE><LCM_STATE>${vm.lcm}</LCM_STATE><PREV_STATE>${vm.state}</PREV_STATE><PREV_LCM_STATE>${vm.lcm}</PREV_LCM_STATE><RESCHED>0</RESCHED><STIME>${vm.stime}</STIME><ETIME>0</ETIME><DEPLOY_ID>${vm.hostId >= 0 ? `one-${vm.id}` : ""}</DEPLOY_ID><MONITORING/>${short ? "" : "<SCHED_ACTIONS/>"}${templateXml(template)}${userTemplate}${history}</VM>`;
  }
}
