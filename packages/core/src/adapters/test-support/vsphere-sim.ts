import { randomBytes } from "node:crypto";
import { type SimReply, type SimRequest, startSim } from "./http-sim.js";
import { handleVimJson, type VimState } from "./vsphere-vim-sim.js";

/**
 * vCenter simulator: the vSphere Automation REST API (/api, vSphere 7.0U2+) with Basic-auth sessions,
 * the vmware-api-session-id header, {error_type, messages} errors, VMs with power states, disks,
 * SATA adapters and boot devices — plus the VI/JSON API (/sdk/vim25, see vsphere-vim-sim.ts).
 *
 * Modelled from the vSphere Automation API reference (developer.broadcom.com, vSphere Automation API 8.0):
 * - vcenter.vm.hardware.Ethernet BackingType: a NIC's backing type must match its network's kind —
 *   STANDARD_PORTGROUP for network-N, DISTRIBUTED_PORTGROUP for dvportgroup-N (vcenter.Network.Type),
 *   OPAQUE_NETWORK for network-oN; a mismatch or an unknown network is INVALID_ARGUMENT.
 * - The Automation API (/api) is served by vCenter Server only: `standaloneEsxi` answers /api with a plain
 *   404 and reports AboutInfo.apiType "HostAgent" on VI/JSON, as an ESXi host does.
 * - VM list (GET /api/vcenter/vm, vcenter.VM.FilterSpec): `names` and `folders` filters (a VM matches when its
 *   name is one of the names and its folder, placement.folder of its create/clone, one of the folders); a
 *   clone or create with a name already used in its folder is ALREADY_EXISTS.
 */
export type SimNetworkType = "STANDARD_PORTGROUP" | "DISTRIBUTED_PORTGROUP" | "OPAQUE_NETWORK";

export const SIM_NETWORKS: Record<string, SimNetworkType> = {
  "network-13": "STANDARD_PORTGROUP",
  "dvportgroup-21": "DISTRIBUTED_PORTGROUP",
  "network-o25": "OPAQUE_NETWORK",
};
export interface SimDisk {
  type: "SCSI" | "SATA" | "IDE" | "NVME";
  vmdk_file: string;
  capacityBytes: number;
}

export interface SimVsphereVm {
  name: string;
  power_state: "POWERED_ON" | "POWERED_OFF" | "SUSPENDED";
  cpu: { count: number };
  memory: { size_MiB: number };
  spec?: unknown;
  customization?: unknown;
  template?: boolean;
  /** extraConfig (the .vmx keys), e.g. guestinfo.metadata. */
  extraConfig?: Record<string, string>;
  /** Disk id ("2000") → disk. */
  disks?: Map<string, SimDisk>;
  sataAdapters?: string[];
  bootDisks?: string[];
  /** NIC id ("4000") → backing. */
  nics?: Map<string, { type: string; network: string }>;
  /** placement.folder of the create or clone. */
  folder?: string;
}

export async function startVsphereSim(options: {
  user: string;
  password: string;
  taskPolls?: number;
  networks?: Record<string, SimNetworkType>;
  standaloneEsxi?: boolean;
  /** Replaces an answer (a proxy's login page, a changed API): gets each request and the simulator's own reply. */
  intercept?: (req: SimRequest, reply: SimReply) => SimReply | Promise<SimReply>;
}) {
  const networks = options.networks ?? SIM_NETWORKS;
  const vms = new Map<string, SimVsphereVm>();
  const sessions = new Set<string>();
  let seq = 1000;
  let deviceSeq = 16000;
  const err = (status: number, error_type: string, message: string): SimReply => ({
    status,
    body: {
      error_type,
      messages: [{ id: `vapi.${error_type.toLowerCase()}`, default_message: message, args: [] }],
    },
  });
  const vim: VimState = {
    vms,
    sessions: new Set(),
    tasks: new Map(),
    user: options.user,
    password: options.password,
    taskPolls: options.taskPolls ?? 1,
    apiType: options.standaloneEsxi ? "HostAgent" : "VirtualCenter",
  };
  const handle = (req: SimRequest): SimReply => {
    if (req.path.startsWith("/sdk/vim25/")) return handleVimJson(vim, req);
    if (options.standaloneEsxi && req.path.startsWith("/api"))
      return { status: 404, text: "Not Found", headers: { "content-type": "text/plain" } };
    if (req.method === "POST" && req.path === "/api/session") {
      const expected = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString("base64")}`;
      if (req.headers.authorization !== expected)
        return err(401, "UNAUTHENTICATED", "Authentication required.");
      const id = randomBytes(16).toString("hex");
      sessions.add(id);
      return { status: 201, body: id };
    }
    if (!sessions.has(String(req.headers["vmware-api-session-id"] ?? "")))
      return err(401, "UNAUTHENTICATED", "This method requires authentication.");
    const body = (req.json ?? {}) as Record<string, unknown>;
    if (req.path === "/api/vcenter/vm" && req.method === "GET") {
      const names = req.query.get("names")?.split(",");
      const folders = req.query.get("folders")?.split(",");
      return {
        status: 200,
        body: [...vms]
          .filter(([, v]) => !names || names.includes(v.name))
          .filter(([, v]) => !folders || (v.folder !== undefined && folders.includes(v.folder)))
          .map(([vm, v]) => ({ vm, name: v.name, power_state: v.power_state })),
      };
    }
    if (req.path === "/api/vcenter/vm" && req.method === "POST") {
      const action = req.query.get("action");
      const folder = (body.placement as { folder?: unknown } | undefined)?.folder;
      const inFolder = typeof folder === "string" ? { folder } : {};
      if (
        typeof body.name === "string" &&
        [...vms.values()].some((v) => v.name === body.name && v.folder !== undefined && v.folder === folder)
      )
        return err(
          400,
          "ALREADY_EXISTS",
          `A VM named ${body.name} already exists in folder ${String(folder)}.`,
        );
      if (action === "clone") {
        const source = vms.get(String(body.source));
        if (!source) return err(404, "NOT_FOUND", `Source VM ${String(body.source)} not found.`);
        if (typeof body.name !== "string") return err(400, "INVALID_ARGUMENT", "Missing name.");
        const id = `vm-${++seq}`;
        vms.set(id, {
          ...source,
          name: body.name,
          ...inFolder,
          template: false,
          power_state: body.power_on ? "POWERED_ON" : "POWERED_OFF",
          extraConfig: { ...source.extraConfig },
          disks: new Map(
            [...(source.disks ?? [])].map(([key, d]) => [
              key,
              { ...d, vmdk_file: d.vmdk_file.replace(/[^\s/]+\/[^/]+$/, `${body.name}/${body.name}.vmdk`) },
            ]),
          ),
          sataAdapters: [...(source.sataAdapters ?? [])],
          nics: new Map([...(source.nics ?? [])].map(([key, n]) => [key, { ...n }])),
          bootDisks: [...(source.bootDisks ?? [])],
        });
        return { status: 200, body: id };
      }
      if (action) return err(400, "INVALID_ARGUMENT", `Unknown action ${action}.`);
      const cpu = body.cpu as { count?: number } | undefined;
      const memory = body.memory as { size_MiB?: number } | undefined;
      if (typeof body.name !== "string" || !body.placement)
        return err(400, "INVALID_ARGUMENT", "name and placement are required.");
      for (const nic of (body.nics ?? []) as { backing?: { type?: string; network?: string } }[]) {
        const kind = networks[String(nic.backing?.network)];
        if (!kind) return err(400, "INVALID_ARGUMENT", `Network ${String(nic.backing?.network)} not found.`);
        if (nic.backing?.type !== kind)
          return err(
            400,
            "INVALID_ARGUMENT",
            `Backing type ${String(nic.backing?.type)} does not match network ${String(nic.backing?.network)} of type ${kind}.`,
          );
      }
      const id = `vm-${++seq}`;
      vms.set(id, {
        name: body.name,
        ...inFolder,
        power_state: "POWERED_OFF",
        cpu: { count: cpu?.count ?? 1 },
        memory: { size_MiB: memory?.size_MiB ?? 1024 },
        spec: body,
        extraConfig: {},
        disks: new Map(),
      });
      return { status: 201, body: id };
    }
    const m = /^\/api\/vcenter\/vm\/([^/]+)(\/.*)?$/.exec(req.path);
    if (!m) return err(404, "NOT_FOUND", `No such path ${req.path}.`);
    const vm = vms.get(m[1] as string);
    if (!vm) return err(404, "NOT_FOUND", `VM ${m[1]} not found.`);
    const sub = m[2] ?? "";
    if (sub === "" && req.method === "GET")
      return {
        status: 200,
        body: { name: vm.name, power_state: vm.power_state, cpu: vm.cpu, memory: vm.memory },
      };
    if (sub === "" && req.method === "DELETE") {
      if (vm.power_state === "POWERED_ON")
        return err(400, "NOT_ALLOWED_IN_CURRENT_STATE", "The VM is powered on.");
      vms.delete(m[1] as string);
      return { status: 204 };
    }
    if (sub === "/hardware/cpu" && req.method === "PATCH") {
      if (typeof body.count !== "number") return err(400, "INVALID_ARGUMENT", "count must be an integer.");
      vm.cpu.count = body.count;
      return { status: 204 };
    }
    if (sub === "/hardware/memory" && req.method === "PATCH") {
      if (typeof body.size_MiB !== "number")
        return err(400, "INVALID_ARGUMENT", "size_MiB must be an integer.");
      vm.memory.size_MiB = body.size_MiB;
      return { status: 204 };
    }
    if (sub === "/hardware/ethernet" && req.method === "GET")
      return { status: 200, body: [...(vm.nics ?? new Map()).keys()].map((nic) => ({ nic })) };
    const ethernet = /^\/hardware\/ethernet\/(\d+)$/.exec(sub);
    if (ethernet && req.method === "PATCH") {
      const nic = vm.nics?.get(ethernet[1] as string);
      if (!nic) return err(404, "NOT_FOUND", `Ethernet adapter ${ethernet[1]} not found.`);
      const backing = body.backing as { type?: string; network?: string } | undefined;
      const kind = networks[String(backing?.network)];
      if (!kind) return err(400, "INVALID_ARGUMENT", `Network ${String(backing?.network)} not found.`);
      if (backing?.type !== kind)
        return err(
          400,
          "INVALID_ARGUMENT",
          `Backing type ${String(backing?.type)} does not match network ${String(backing?.network)} of type ${kind}.`,
        );
      vm.nics?.set(ethernet[1] as string, { type: kind, network: String(backing.network) });
      return { status: 204 };
    }
    const hardware = hardwareRoute(vm, sub, req, body, () => String(++deviceSeq), err);
    if (hardware) return hardware;
    if (sub === "/guest/customization" && req.method === "PUT") {
      if (vm.power_state !== "POWERED_OFF")
        return err(400, "NOT_ALLOWED_IN_CURRENT_STATE", "Customization needs a powered-off VM.");
      vm.customization = body;
      return { status: 204 };
    }
    if (sub === "/guest/identity" && req.method === "GET") {
      if (vm.power_state !== "POWERED_ON")
        return err(503, "SERVICE_UNAVAILABLE", "VMware Tools is not running.");
      const ip = guestAddress(vm);
      return { status: 200, body: { name: "UBUNTU_64", host_name: vm.name, ip_address: ip } };
    }
    if (sub === "/power" && req.method === "POST") {
      const action = req.query.get("action");
      const wanted = action === "start" ? "POWERED_ON" : action === "stop" ? "POWERED_OFF" : undefined;
      if (!wanted) return err(400, "INVALID_ARGUMENT", `Unknown power action ${action}.`);
      if (vm.power_state === wanted)
        return err(400, "ALREADY_IN_DESIRED_STATE", `Virtual machine is already ${wanted}.`);
      vm.power_state = wanted;
      return { status: 204 };
    }
    return err(404, "NOT_FOUND", `No such path ${req.path}.`);
  };
  const intercept = options.intercept;
  const server = await startSim(intercept ? (req) => intercept(req, handle(req)) : handle);
  return { ...server, vms, sessions, vimSessions: vim.sessions };
}

/** /hardware/disk, /hardware/adapter/sata and /hardware/boot/device (powered-off VMs only, as vCenter requires). */
function hardwareRoute(
  vm: SimVsphereVm,
  sub: string,
  req: SimRequest,
  body: Record<string, unknown>,
  nextId: () => string,
  err: (status: number, type: string, message: string) => SimReply,
): SimReply | undefined {
  if (!vm.disks) vm.disks = new Map();
  const disks = vm.disks;
  if (sub === "/hardware/disk" && req.method === "GET")
    return { status: 200, body: [...disks.keys()].map((disk) => ({ disk })) };
  const one = /^\/hardware\/disk\/(\d+)$/.exec(sub);
  if (one && req.method === "GET") {
    const d = disks.get(one[1] as string);
    if (!d) return err(404, "NOT_FOUND", `Disk ${one[1]} not found.`);
    const address = d.type === "SATA" ? { sata: { bus: 0, unit: 0 } } : { scsi: { bus: 0, unit: 0 } };
    return {
      status: 200,
      body: {
        label: `Hard disk ${one[1]}`,
        type: d.type,
        ...address,
        backing: { type: "VMDK_FILE", vmdk_file: d.vmdk_file },
        capacity: d.capacityBytes,
      },
    };
  }
  const changes = sub.startsWith("/hardware/") && req.method !== "GET";
  if (changes && vm.power_state !== "POWERED_OFF")
    return err(400, "NOT_ALLOWED_IN_CURRENT_STATE", "The VM must be powered off to change its hardware.");
  if (one && req.method === "DELETE") {
    if (!disks.delete(one[1] as string)) return err(404, "NOT_FOUND", `Disk ${one[1]} not found.`);
    vm.bootDisks = (vm.bootDisks ?? []).filter((d) => d !== one[1]);
    return { status: 204 };
  }
  if (sub === "/hardware/disk" && req.method === "POST") {
    const backing = body.backing as { type?: string; vmdk_file?: string } | undefined;
    if (backing?.type !== "VMDK_FILE" || !backing.vmdk_file)
      return err(400, "INVALID_ARGUMENT", "backing must be {type: VMDK_FILE, vmdk_file}.");
    if (body.type === "SATA" && (vm.sataAdapters ?? []).length === 0)
      return err(400, "UNABLE_TO_ALLOCATE_RESOURCE", "No SATA adapter with a free slot.");
    const id = nextId();
    disks.set(id, {
      type: (body.type as SimDisk["type"]) ?? "SCSI",
      vmdk_file: backing.vmdk_file,
      capacityBytes: 10 * 1024 ** 3,
    });
    return { status: 201, body: id };
  }
  if (sub === "/hardware/adapter/sata" && req.method === "GET")
    return { status: 200, body: (vm.sataAdapters ?? []).map((adapter) => ({ adapter })) };
  if (sub === "/hardware/adapter/sata" && req.method === "POST") {
    if (body.type !== undefined && body.type !== "AHCI")
      return err(400, "INVALID_ARGUMENT", `Unknown SATA adapter type ${String(body.type)}.`);
    const id = String(15000 + (vm.sataAdapters ?? []).length);
    vm.sataAdapters = [...(vm.sataAdapters ?? []), id];
    return { status: 201, body: id };
  }
  if (sub === "/hardware/boot/device" && req.method === "PUT") {
    const devices = body.devices as { type?: string; disks?: string[] }[] | undefined;
    const unknown = (devices ?? []).flatMap((d) => d.disks ?? []).filter((d) => !disks.has(d));
    if (!Array.isArray(devices) || unknown.length)
      return err(400, "INVALID_ARGUMENT", `Unknown boot disks ${unknown.join(", ")}.`);
    vm.bootDisks = devices.flatMap((d) => d.disks ?? []);
    return { status: 204 };
  }
  return undefined;
}

/** What VMware Tools would report once cloud-init applied the static network from guestinfo (or customization). */
function guestAddress(vm: SimVsphereVm): string | undefined {
  const fromGuestinfo = vm.extraConfig?.["guestinfo.metadata"];
  const meta = fromGuestinfo
    ? JSON.parse(Buffer.from(fromGuestinfo, "base64").toString("utf8"))
    : JSON.parse(
        (
          vm.customization as {
            spec?: { configuration_spec?: { cloud_config?: { cloudinit?: { metadata?: string } } } };
          }
        )?.spec?.configuration_spec?.cloud_config?.cloudinit?.metadata ?? "{}",
      );
  const ip = String(meta.network?.ethernets?.primary?.addresses?.[0] ?? "").split("/")[0];
  return ip || undefined;
}
