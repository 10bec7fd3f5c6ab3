import { type SimReply, type SimRequest, startSim } from "./http-sim.js";

/**
 * A Proxmox VE /api2/json simulator built from the API schema (apidata.js): token auth, the
 * {data: ...} envelope, errors in the reason phrase, 400 with {errors: {param: msg}}, and UPID
 * tasks that stay "running" for `taskPolls` polls before stopping with an exit status.
 *
 * Also modelled from Proxmox's source (pve-manager, pve-cluster, qemu-server, pve-guest-common):
 * - /cluster/nextid only reports the lowest free VMID at the time of asking (PVE/API2/Cluster.pm nextid), nothing
 *   is reserved: `competingClones` lets another deployment take the id just handed out — before our clone
 *   ("check": PVE::Cluster::check_vmid_unused answers "VM N already exists on node 'x'") or while our clone
 *   task runs ("task": PVE/AbstractConfig.pm create_and_lock_config fails it with "unable to create VM N:
 *   config file already exists"). Either way our clone creates nothing.
 * - Config locks (apidata qemu "lock" enum; PVE/AbstractConfig.pm check_lock): while a task such as a backup
 *   or a migration holds one, config changes, resize, start/stop/shutdown and delete fail with "VM is locked
 *   (<lock>)". `holdLock` sets one that its task releases after a number of status reads.
 */
export interface SimVm {
  name: string;
  template: boolean;
  status: "running" | "stopped";
  config: Record<string, string | number>;
}

export interface ProxmoxSimOptions {
  tokenId: string;
  secret: string;
  node?: string;
  taskPolls?: number;
  /** Make the next task of this type fail with this exit status (e.g. {qmclone: "storage full"}). */
  failTasks?: Record<string, string>;
  /** Make the next task of this type succeed with warnings ({qmstart: 1} → "WARNINGS: 1"). */
  warnTasks?: Record<string, number>;
  /**
   * Sees each request after the simulator acted on it and may replace or delay the answer: a proxy's
   * HTML page, a truncated body, or an answer that never comes (a client killed mid-call).
   */
  intercept?: (req: SimRequest, reply: SimReply) => SimReply | Promise<SimReply>;
  /** Another deployment takes the next `count` VMIDs nextid hands out (see the header). */
  competingClones?: { mode: "check" | "task"; count: number };
}

/** The parameters POST /nodes/{node}/qemu/{vmid}/clone takes (apidata: additionalProperties 0). */
const CLONE_KEYS = new Set([
  "newid",
  "name",
  "full",
  "storage",
  "pool",
  "target",
  "format",
  "description",
  "snapname",
  "bwlimit",
]);
/** pve-configid-list "dns-name" format of the clone's name. */
const DNS_NAME =
  /^(?=.{1,255}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;

const CONFIG_KEYS =
  /^(cores|memory|ipconfig\d|nameserver|searchdomain|sshkeys|ciuser|cipassword|net\d|boot|delete|name|description|(scsi|sata|virtio|ide)\d+|digest)$/;
const IPCONFIG = /^(ip=(dhcp|\d+\.\d+\.\d+\.\d+\/\d{1,2})(,gw=\d+\.\d+\.\d+\.\d+)?|ip=dhcp)$/;

export async function startProxmoxSim(options: ProxmoxSimOptions) {
  const node = options.node ?? "pve1";
  const vms = new Map<number, SimVm>();
  /** VMIDs handed out by nextid that a competing deployment's clone will take while ours runs. */
  const contested = new Set<number>();
  /** Status reads left until the task holding a VM's lock ends. */
  const lockReads = new Map<number, number>();
  const competitor = (): SimVm => ({
    name: "other-deployment",
    template: false,
    status: "stopped",
    config: { name: "other-deployment", cores: 1, memory: 512 },
  });
  const tasks = new Map<string, { polls: number; exitstatus: string; type: string; apply?: () => void }>();
  let taskSeq = 0;
  // Proxmox knows each volume's size; a disk re-attached by volume id gets its size back.
  const volumeSizes = new Map<string, string>();
  const remember = (config: Record<string, string | number>) => {
    for (const [k, v] of Object.entries(config)) {
      const m = /^([^,]+),.*size=([^,]+)/.exec(String(v));
      if (/^(scsi|sata|virtio|ide)\d+$/.test(k) && m) volumeSizes.set(m[1] as string, m[2] as string);
    }
  };
  const newTask = (type: string, id: number, apply?: () => void): string => {
    taskSeq += 1;
    const upid = `UPID:${node}:${taskSeq.toString(16).toUpperCase().padStart(8, "0")}:00000000:6560A000:${type}:${id}:${options.tokenId}:`;
    const fail = options.failTasks?.[type];
    if (fail) delete options.failTasks?.[type];
    const warnings = options.warnTasks?.[type];
    if (warnings) delete options.warnTasks?.[type];
    tasks.set(upid, {
      polls: options.taskPolls ?? 1,
      exitstatus: fail ?? (warnings ? `WARNINGS: ${warnings}` : "OK"),
      type,
      ...(fail ? {} : apply ? { apply } : {}),
    });
    return upid;
  };
  const ok = (data: unknown): SimReply => ({ status: 200, body: { data } });
  const fail = (status: number, message: string): SimReply => ({
    status,
    statusMessage: message,
    body: { data: null },
  });
  const paramError = (errors: Record<string, string>): SimReply => ({
    status: 400,
    statusMessage: "Parameter verification failed.",
    body: { data: null, errors },
  });
  const missing = (id: number) =>
    fail(500, `Configuration file 'nodes/${node}/qemu-server/${id}.conf' does not exist`);

  const handle = (req: SimRequest): SimReply => {
    if (req.headers.authorization !== `PVEAPIToken=${options.tokenId}=${options.secret}`)
      return fail(401, "authentication failure");
    const p = req.path.replace(/^\/api2\/json/, "");
    const params = { ...Object.fromEntries(req.query), ...req.form };
    if (req.method === "GET" && p === "/cluster/nextid") {
      let id = 100;
      while (vms.has(id) || contested.has(id)) id++;
      const race = options.competingClones;
      if (race && race.count > 0) {
        race.count -= 1;
        if (race.mode === "check") vms.set(id, competitor());
        else contested.add(id);
      }
      return ok(String(id));
    }
    const nodeMatch = /^\/nodes\/([^/]+)(\/.*)$/.exec(p);
    if (!nodeMatch) return fail(501, `Method '${req.method} ${p}' not implemented`);
    if (nodeMatch[1] !== node) return fail(595, `no such cluster node '${nodeMatch[1]}'`);
    const rest = nodeMatch[2] as string;
    const task = /^\/tasks\/([^/]+)\/status$/.exec(rest);
    if (task && req.method === "GET") {
      const t = tasks.get(task[1] as string);
      if (!t) return fail(500, "no such task");
      if (t.polls > 0) {
        t.polls -= 1;
        return ok({ status: "running", upid: task[1], node, type: t.type });
      }
      t.apply?.();
      t.apply = undefined;
      return ok({ status: "stopped", exitstatus: t.exitstatus, upid: task[1], node, type: t.type });
    }
    if (req.method === "GET" && rest === "/qemu") {
      // apidata "vmlist": vmid (integer), name, status; template only set (1) for templates.
      return ok(
        [...vms.entries()].map(([vmid, v]) => ({
          vmid,
          name: v.name,
          status: v.status,
          ...(v.template ? { template: 1 } : {}),
        })),
      );
    }
    const m = /^\/qemu\/(\d+)(\/.*)?$/.exec(rest);
    if (!m) return fail(501, `Method '${req.method} ${p}' not implemented`);
    const vmid = Number(m[1]);
    const sub = m[2] ?? "";
    const vm = vms.get(vmid);
    if (req.method === "POST" && sub === "/clone") {
      if (!vm) return missing(vmid);
      const unknown = Object.keys(params).filter((k) => !CLONE_KEYS.has(k));
      if (unknown.length)
        return paramError(
          Object.fromEntries(
            unknown.map((k) => [
              k,
              "property is not defined in schema and the schema does not allow additional properties",
            ]),
          ),
        );
      if (params.newid === undefined)
        return paramError({ newid: "property is missing and it is not optional" });
      if (params.name !== undefined && !DNS_NAME.test(params.name))
        return paramError({ name: `value '${params.name}' does not look like a valid DNS name` });
      const newid = Number(params.newid);
      if (!Number.isInteger(newid) || newid < 100 || newid > 999_999_999)
        return paramError({ newid: "invalid format - value does not look like a valid VM ID" });
      if (vms.has(newid)) return fail(500, `VM ${newid} already exists on node '${node}'`);
      if (params.full !== undefined && !/^[01]$/.test(params.full))
        return paramError({ full: "type check ('boolean') failed" });
      if (!vm.template && params.full === "0")
        return fail(500, "Linked clone feature is not supported for a VM, only for templates");
      if (contested.delete(newid)) {
        // The competing clone wrote its config first: ours fails inside the task and creates nothing.
        const upid = newTask("qmclone", vmid);
        const t = tasks.get(upid);
        if (t) {
          t.exitstatus = `unable to create VM ${newid}: config file already exists`;
          t.apply = () => vms.set(newid, competitor());
        }
        return ok(upid);
      }
      const full = params.full === "1" || !vm.template;
      const clone: SimVm = {
        name: params.name ?? `Copy-of-VM-${vm.name}`,
        template: false,
        status: "stopped",
        config: { ...cloneDisks(vm.config, vmid, newid, full, params.storage), name: params.name ?? "" },
      };
      remember(clone.config);
      vms.set(newid, { ...clone, config: { ...clone.config } });
      // The clone holds a lock until the task completes.
      (vms.get(newid) as SimVm).config.lock = "clone";
      return ok(newTask("qmclone", vmid, () => delete (vms.get(newid) as SimVm).config.lock));
    }
    if (!vm) return missing(vmid);
    if (req.method === "GET" && sub === "/config") {
      const { lock: _lock, ...config } = vm.config;
      return ok(config);
    }
    if ((req.method === "PUT" || req.method === "POST") && sub === "/config") {
      if (vm.config.lock) return fail(500, `VM is locked (${vm.config.lock})`);
      const unknown = Object.keys(params).filter((k) => !CONFIG_KEYS.test(k));
      if (unknown.length)
        return paramError(
          Object.fromEntries(
            unknown.map((k) => [
              k,
              "property is not defined in schema and the schema does not allow additional properties",
            ]),
          ),
        );
      const errors: Record<string, string> = {};
      for (const key of ["cores", "memory"])
        if (params[key] !== undefined && !/^\d+$/.test(params[key] as string))
          errors[key] = "type check ('integer') failed";
      for (const [k, v] of Object.entries(params))
        if (/^ipconfig\d$/.test(k) && !IPCONFIG.test(v))
          errors[k] = `invalid format - value '${v}' does not match format pve-qm-ipconfig`;
      if (Object.keys(errors).length) return paramError(errors);
      for (const key of (params.delete ?? "").split(/[,;\s]+/).filter(Boolean)) {
        const volume = vm.config[key];
        delete vm.config[key];
        if (volume !== undefined && /^(scsi|sata|virtio|ide)\d+$/.test(key)) {
          let n = 0;
          while (vm.config[`unused${n}`] !== undefined) n++;
          vm.config[`unused${n}`] = String(volume).split(",")[0] as string;
        }
      }
      for (const [k, v] of Object.entries(params)) {
        if (k === "delete" || k === "digest") continue;
        if (/^(scsi|sata|virtio|ide)\d+$/.test(k)) {
          const unused = Object.keys(vm.config).find(
            (u) => /^unused\d+$/.test(u) && vm.config[u] === v.split(",")[0],
          );
          if (unused) delete vm.config[unused];
          const volid = v.split(",")[0] as string;
          const size = volumeSizes.get(volid);
          if (size && !v.includes("size=")) {
            vm.config[k] = `${v},size=${size}`;
            continue;
          }
        }
        vm.config[k] = /^\d+$/.test(v) && (k === "cores" || k === "memory") ? Number(v) : v;
      }
      return ok(null);
    }
    if (req.method === "PUT" && sub === "/resize") {
      if (vm.config.lock) return fail(500, `VM is locked (${vm.config.lock})`);
      const disk = params.disk ?? "";
      const size = params.size ?? "";
      if (!/^(scsi|sata|virtio|ide)\d+$/.test(disk))
        return paramError({ disk: "value '" + disk + "' does not have a value in the enumeration" });
      if (!/^\+?\d+(\.\d+)?[KMGT]?$/.test(size))
        return paramError({ size: "value does not match the regex pattern" });
      const current = vm.config[disk];
      if (current === undefined) return fail(500, `disk '${disk}' does not exist`);
      const cur = toGb(/size=([^,]+)/.exec(String(current))?.[1] ?? "0");
      const wanted = size.startsWith("+") ? cur + Number.parseFloat(size.slice(1)) : Number.parseFloat(size);
      if (wanted < cur) return fail(500, "shrinking disks is not supported");
      return ok(
        newTask("resize", vmid, () => {
          vm.config[disk] = String(current).replace(/size=[^,]+/, `size=${wanted}G`);
          remember(vm.config);
        }),
      );
    }
    if (req.method === "GET" && sub === "/status/current") {
      const left = lockReads.get(vmid);
      if (left !== undefined) {
        if (left <= 0) {
          lockReads.delete(vmid);
          delete vm.config.lock;
        } else lockReads.set(vmid, left - 1);
      }
      const base = {
        vmid,
        name: vm.name,
        status: vm.status,
        qmpstatus: vm.status,
        cpus: vm.config.cores,
        maxmem: Number(vm.config.memory ?? 0) * 1048576,
      };
      return ok(vm.config.lock ? { ...base, lock: vm.config.lock } : base);
    }
    if (req.method === "POST" && /^\/status\/(start|stop|shutdown)$/.test(sub)) {
      const action = sub.split("/")[2] as string;
      if (vm.template) return fail(500, `VM ${vmid} is a template`);
      if (vm.config.lock) return fail(500, `VM is locked (${vm.config.lock})`);
      if (action === "start" && vm.status === "running") return fail(500, `VM ${vmid} already running`);
      return ok(
        newTask(action === "start" ? "qmstart" : action === "stop" ? "qmstop" : "qmshutdown", vmid, () => {
          vm.status = action === "start" ? "running" : "stopped";
        }),
      );
    }
    if (req.method === "DELETE" && sub === "") {
      if (vm.config.lock) return fail(500, `VM is locked (${vm.config.lock})`);
      if (vm.status === "running") return fail(500, `VM ${vmid} is running - destroy failed`);
      return ok(newTask("qmdestroy", vmid, () => vms.delete(vmid)));
    }
    return fail(501, `Method '${req.method} ${p}' not implemented`);
  };

  const intercept = options.intercept;
  const server = await startSim(intercept ? (req) => intercept(req, handle(req)) : handle);
  return {
    ...server,
    node,
    vms,
    /**
     * Runs every unfinished task to its end, as the server does whether or not a client polls: a client
     * killed mid-clone leaves a clone task that still completes (and drops the VM's lock).
     */
    completeTasks() {
      for (const t of tasks.values()) {
        t.polls = 0;
        t.apply?.();
        t.apply = undefined;
      }
    },
    /** A task (backup, migrate ...) locks the VM; it ends after `statusReads` reads of its status. */
    holdLock(id: number, lock: string, statusReads: number) {
      const vm = vms.get(id);
      if (!vm) throw new Error(`no VM ${id}`);
      vm.config.lock = lock;
      lockReads.set(id, statusReads);
    },
    addTemplate(id: number, vm: Partial<SimVm> & { config: Record<string, string | number> }) {
      vms.set(id, { name: vm.name ?? `tmpl-${id}`, template: true, status: "stopped", ...vm });
      remember(vm.config);
    },
  };
}

/**
 * Disks of a clone the way Proxmox names them: a full clone copies each volume to vm-<newid>-disk-N
 * (on the target storage when given), a linked clone refers to the template's base volume.
 */
function cloneDisks(
  config: Record<string, string | number>,
  source: number,
  newid: number,
  full: boolean,
  storage: string | undefined,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(config)) {
    const m = /^([^:,]+):([^,]+)(,.*)?$/.exec(String(value));
    if (!/^(scsi|sata|virtio|ide)\d+$/.test(key) || !m || String(value).includes("media=cdrom")) {
      out[key] = value;
      continue;
    }
    const [, store, volume, rest = ""] = m as unknown as [string, string, string, string | undefined];
    const renamed = volume.replace(new RegExp(`^(base|vm)-${source}-`), `vm-${newid}-`);
    out[key] = full ? `${storage ?? store}:${renamed}${rest}` : `${store}:${volume}/${renamed}${rest}`;
  }
  return out;
}

function toGb(size: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(size);
  if (!m) return 0;
  const unit = { K: 1 / 1048576, M: 1 / 1024, G: 1, T: 1024, "": 1 / 1024 ** 3 }[m[2] as "K"];
  return Number(m[1]) * unit;
}
