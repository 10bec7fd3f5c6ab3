import type { Finding } from "../deploy-rules/findings.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { PlatformApiError } from "../errors.js";
import type { HttpJsonClient, HttpResponse } from "./http-json.js";
import { missingOption, OptionReader } from "./options.js";
import { PROXMOX_VM_CONFIG, PROXMOX_VM_LIST, proxmoxClient, proxmoxData } from "./proxmox-api.js";
import { type Shape, shapes } from "./response-shape.js";
import type {
  CallOptions,
  DeploymentPlan,
  NodeInfo,
  NodeRef,
  NodeState,
  PlannedCall,
  PlatformAdapter,
  PlatformCapabilities,
  ResolvedSpec,
  WaitOptions,
} from "./types.js";
import { pollUntil, waitForRunning } from "./wait.js";

export interface ProxmoxAdapterOptions {
  /** The spec whose platform_options.proxmox (url, node, storage, vmid, insecure_tls, ca_file) configure the client. */
  spec?: DeploySpec;
  /** Overrides for platform_options.proxmox (tests, CLI flags). */
  overrides?: { url?: string; node?: string; insecure_tls?: boolean };
  /** PROXMOX_URL, PROXMOX_TOKEN_ID (user@realm!tokenid), PROXMOX_TOKEN_SECRET. */
  env?: NodeJS.ProcessEnv;
  pollIntervalMs?: number;
  taskTimeoutMs?: number;
}

const DISK_KEYS = /^(scsi|virtio|sata|ide)\d+$/;
/** How often a clone is retried with a fresh VMID when a concurrent deployment took the one nextid gave. */
const NEXTID_ATTEMPTS = 5;

/**
 * Proxmox VE through its REST API (/api2/json) with an API token. Every VM is a clone of a template
 * (the rules require template_id); cloud-init gets the static address via ipconfig0/nameserver.
 */
export class ProxmoxAdapter implements PlatformAdapter {
  readonly name = "proxmox" as const;
  readonly capabilities: PlatformCapabilities = {
    dhcpAvailable: false,
    windowsDiskBus: "sata",
    imageFormats: [],
    convertibleFormats: [],
    cloneFromTemplate: true,
    guestConfig: "cloud-init-drive",
  };
  private readonly opts: OptionReader;
  private readonly env: NodeJS.ProcessEnv;
  private http: HttpJsonClient | undefined;

  constructor(private readonly options: ProxmoxAdapterOptions = {}) {
    this.opts = new OptionReader("proxmox", options.spec, options.overrides ?? {});
    this.env = options.env ?? process.env;
  }

  validate(spec: DeploySpec): Finding[] {
    const o = new OptionReader("proxmox", spec, this.options.overrides ?? {});
    const out: Finding[] = [];
    if (!o.string("node")) out.push(missingOption("proxmox", "node", '"pve1"'));
    if (!o.string("url") && !this.env.PROXMOX_URL)
      out.push(missingOption("proxmox", "url", '"https://pve1:8006"', "PROXMOX_URL"));
    const url = o.string("url") ?? this.env.PROXMOX_URL;
    if (url && /^http:\/\//i.test(url.trim())) {
      out.push({
        code: "PROXMOX_URL_CLEARTEXT",
        severity: "warning",
        field: "platform_options.proxmox.url",
        message: `${url} is plain http: the API token (PVEAPIToken header) travels in clear over the network.`,
        fix: "Use https://HOST:8006 (Proxmox serves the API over TLS only); for a self-signed certificate set ca_file or insecure_tls.",
      });
    }
    if (spec.template_id !== undefined && !/^\d+$/.test(spec.template_id)) {
      out.push({
        code: "PROXMOX_TEMPLATE_ID",
        severity: "error",
        field: "template_id",
        message: `Proxmox templates are VMIDs (integers), got "${spec.template_id}".`,
        fix: 'E.g. "template_id": 9000.',
      });
    }
    if (spec.template_id === undefined) {
      out.push({
        code: "PROXMOX_TEMPLATE_REQUIRED",
        severity: "error",
        field: "template_id",
        message: "The Proxmox adapter deploys by cloning a template; image import is not done over the API.",
        fix: "Import the cloud image once (qm importdisk), make it a template (qm template), and set template_id.",
      });
    }
    return out;
  }

  plan(spec: ResolvedSpec): DeploymentPlan {
    const o = new OptionReader("proxmox", spec, this.options.overrides ?? {});
    const node = o.string("node") ?? "<node>";
    const vmid = o.string("vmid") ?? "<nextid>";
    const calls: PlannedCall[] = [];
    const http = (action: string, target: string, why: string, params?: Record<string, unknown>) =>
      calls.push({ kind: "http", action, target: `/api2/json${target}`, why, ...(params ? { params } : {}) });
    if (!o.string("vmid"))
      http(
        "GET",
        "/cluster/nextid",
        "Ask the cluster for a free VMID (asked again if another deployment takes it before the clone).",
      );
    http(
      "POST",
      `/nodes/${node}/qemu/${spec.template_id}/clone`,
      `Clone template ${spec.template_id} into VM ${vmid}, then poll the task (GET /nodes/${node}/tasks/{upid}/status) until it stops with OK.`,
      this.cloneParams(spec, vmid, o),
    );
    http("GET", `/nodes/${node}/qemu/${vmid}/config`, "Read the clone's disks to find the system disk.");
    if (spec.os.family === "windows" && o.bool("virtio_drivers") !== true) {
      http(
        "PUT",
        `/nodes/${node}/qemu/${vmid}/config`,
        "Windows: if the template's system disk is on SCSI/VirtIO, detach it (its volume becomes unused0) ...",
        { delete: "<template disk, e.g. scsi0>" },
      );
      http(
        "PUT",
        `/nodes/${node}/qemu/${vmid}/config`,
        "... and attach the same volume as sata0 and boot from it: Windows has no in-box VirtIO/SCSI driver.",
        { sata0: "<its volume>", boot: "order=sata0" },
      );
    }
    http(
      "PUT",
      `/nodes/${node}/qemu/${vmid}/config`,
      "Set CPU, memory and the cloud-init network (static address, gateway, DNS).",
      this.configParams(spec),
    );
    if (spec.disk_gb !== undefined) {
      http(
        "PUT",
        `/nodes/${node}/qemu/${vmid}/resize`,
        `Grow the system disk to ${spec.disk_gb} GB (Proxmox never shrinks).`,
        { disk: this.plannedDisk(spec), size: `${spec.disk_gb}G` },
      );
    }
    http("POST", `/nodes/${node}/qemu/${vmid}/status/start`, "Start the VM and poll the task.");
    http("GET", `/nodes/${node}/qemu/${vmid}/status/current`, "Poll until the VM reports running.");
    return { platform: "proxmox", name: spec.name, network: spec.resolvedNetwork, calls };
  }

  async create(spec: ResolvedSpec, call: CallOptions = {}): Promise<NodeRef> {
    const api = this.client(call);
    const o = new OptionReader("proxmox", spec, this.options.overrides ?? {});
    const node = o.requireString("node");
    const ref = await this.cloneTemplate(spec, node, o, api, call);
    const vmid = ref.id;
    const base = `/nodes/${enc(node)}/qemu/${enc(vmid)}`;
    try {
      const config = await this.data(
        api.request("GET", `${base}/config`),
        `GET VM ${vmid} config`,
        PROXMOX_VM_CONFIG,
      );
      let disk = systemDisk(config);
      // The size before any re-attach: a disk moved to sata0 keeps its volume, so its size too.
      const currentGb = disk ? sizeInGb(String(config[disk] ?? "")) : undefined;
      if (
        spec.os.family === "windows" &&
        disk &&
        !disk.startsWith("sata") &&
        o.bool("virtio_drivers") !== true
      ) {
        // Windows has no in-box VirtIO/SCSI driver: re-attach the same volume on SATA and boot from it.
        const volume = String(config[disk]);
        await this.data(
          api.request("PUT", `${base}/config`, { form: { delete: disk } }),
          `detach ${disk}`,
          shapes.ignored,
        );
        const freed = await this.data(
          api.request("GET", `${base}/config`),
          `GET VM ${vmid} config`,
          PROXMOX_VM_CONFIG,
        );
        const unused = Object.keys(freed).find(
          (k) => /^unused\d+$/.test(k) && String(freed[k]) === volume.split(",")[0],
        );
        await this.data(
          api.request("PUT", `${base}/config`, {
            form: { sata0: unused ? String(freed[unused]) : volume, boot: "order=sata0" },
          }),
          "attach the system disk as sata0",
          shapes.ignored,
        );
        disk = "sata0";
      }
      await this.data(
        api.request("PUT", `${base}/config`, { form: this.configParams(spec) }),
        `configure VM ${vmid}`,
        shapes.ignored,
      );
      if (spec.disk_gb !== undefined && disk) {
        if (currentGb !== undefined && currentGb > spec.disk_gb) {
          call.onCall?.(
            `disk_gb ${spec.disk_gb} is below the size of the template's system disk (${round(currentGb)} GB): ${disk} kept at ${round(currentGb)} GB, Proxmox never shrinks disks`,
          );
        } else if (currentGb === undefined || currentGb < spec.disk_gb) {
          const resized = await this.data(
            api.request("PUT", `${base}/resize`, { form: { disk, size: `${spec.disk_gb}G` } }),
            `resize ${disk}`,
            shapes.oneOf(UPID, shapes.nullish),
          );
          // PVE 8 answers with a task id, older versions finish synchronously (null).
          if (typeof resized === "string" && resized.startsWith("UPID:"))
            await this.waitTask(node, resized, `resize of ${disk}`, call.signal);
        }
      }
      await this.start(ref, call);
    } catch (error) {
      // A half-configured clone is worse than none: remove it, then report the original failure.
      await this.destroy(ref).catch(() => undefined);
      throw error;
    }
    return ref;
  }

  async get(ref: NodeRef, call: CallOptions = {}): Promise<NodeInfo | undefined> {
    const api = this.client(call);
    const node = this.nodeOf(ref);
    const base = `/nodes/${enc(node)}/qemu/${enc(ref.id)}`;
    const res = await api.request("GET", `${base}/status/current`);
    if (isMissingVm(res)) return undefined;
    const status = (await this.data(Promise.resolve(res), `status of VM ${ref.id}`, VM_STATUS)) as {
      status: string;
      qmpstatus?: string;
      lock?: string;
    };
    const config = await this.data(
      api.request("GET", `${base}/config`),
      `GET VM ${ref.id} config`,
      PROXMOX_VM_CONFIG,
    );
    const ip = /(?:^|,)ip=([\d.]+)/.exec(String(config.ipconfig0 ?? ""))?.[1];
    const raw = status.lock
      ? `${status.status} (lock: ${status.lock})`
      : String(status.qmpstatus ?? status.status ?? "unknown");
    return { ref, state: proxmoxState(status), rawState: raw, addresses: ip ? [ip] : [] };
  }

  async start(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    const node = this.nodeOf(ref);
    await call.beforeMutation?.(ref);
    const upid = await this.data(
      this.client(call).request("POST", `/nodes/${enc(node)}/qemu/${enc(ref.id)}/status/start`, { form: {} }),
      `start VM ${ref.id}`,
      UPID,
    );
    await this.waitTask(node, upid, `start of VM ${ref.id}`, call.signal);
  }

  async stop(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    const node = this.nodeOf(ref);
    await call.beforeMutation?.(ref);
    const upid = await this.data(
      this.client(call).request("POST", `/nodes/${enc(node)}/qemu/${enc(ref.id)}/status/shutdown`, {
        form: { forceStop: 1, timeout: 120 },
      }),
      `shut down VM ${ref.id}`,
      UPID,
    );
    await this.waitTask(node, upid, `shutdown of VM ${ref.id}`, call.signal);
  }

  async destroy(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    const info = await this.unlocked(ref, call);
    if (!info) return;
    const node = this.nodeOf(ref);
    if (info.state !== "stopped") {
      const upid = await this.data(
        this.client(call).request("POST", `/nodes/${enc(node)}/qemu/${enc(ref.id)}/status/stop`, {
          form: {},
        }),
        `stop VM ${ref.id}`,
        UPID,
      );
      await this.waitTask(node, upid, `stop of VM ${ref.id}`, call.signal);
    }
    const upid = await this.data(
      this.client(call).request(
        "DELETE",
        `/nodes/${enc(node)}/qemu/${enc(ref.id)}?purge=1&destroy-unreferenced-disks=1`,
      ),
      `delete VM ${ref.id}`,
      UPID,
    );
    await this.waitTask(node, upid, `deletion of VM ${ref.id}`, call.signal);
  }

  /**
   * nextid, then clone. /cluster/nextid only reports the lowest free VMID at the time of asking (PVE/API2/Cluster.pm
   * nextid: "assert that its free (at time of check)"), so two deploys at once can both get it: the loser's clone
   * fails with "VM N already exists on node" (PVE::Cluster::check_vmid_unused, before the task) or, when both passed
   * that check, its task fails "unable to create VM N: config file already exists" (PVE/AbstractConfig.pm
   * create_and_lock_config). Neither created anything, so ask again; a VMID the user chose is never replaced.
   */
  private async cloneTemplate(
    spec: ResolvedSpec,
    node: string,
    o: OptionReader,
    api: HttpJsonClient,
    call: CallOptions,
  ): Promise<NodeRef> {
    const chosen = o.string("vmid");
    for (let attempt = 1; ; attempt++) {
      const vmid =
        chosen ?? (await this.data(api.request("GET", "/cluster/nextid"), "GET /cluster/nextid", VMID));
      const ref: NodeRef = { platform: "proxmox", id: vmid, name: spec.name, location: { node } };
      // The clone is the mutating call: its VMID and name are on disk before it is sent.
      await call.beforeMutation?.(ref);
      try {
        const upid = await this.data(
          api.request("POST", `/nodes/${enc(node)}/qemu/${enc(spec.template_id ?? "")}/clone`, {
            form: this.cloneParams(spec, vmid, o),
          }),
          `clone template ${spec.template_id}`,
          UPID,
        );
        await this.waitTask(node, upid, `clone of template ${spec.template_id} into VM ${vmid}`, call.signal);
        return ref;
      } catch (error) {
        if (chosen !== undefined || attempt >= NEXTID_ATTEMPTS || !vmidTaken(error, vmid)) throw error;
        call.onCall?.(
          `VMID ${vmid} was taken by another deployment between nextid and clone; asking for the next free VMID (attempt ${attempt + 1} of ${NEXTID_ATTEMPTS})`,
        );
      }
    }
  }

  /** The VM once no task holds a lock on it (a backup or migration ends by itself); undefined if it is gone. */
  private unlocked(ref: NodeRef, call: CallOptions): Promise<NodeInfo | undefined> {
    return pollUntil(
      `Waiting for the lock on Proxmox VM ${ref.id} to be released`,
      () => this.get(ref, call),
      (info) => !info || !/\(lock: (?!suspended\))/.test(info.rawState),
      {
        intervalMs: this.options.pollIntervalMs ?? 2000,
        timeoutMs: this.options.taskTimeoutMs ?? 900_000,
        ...(call.signal ? { signal: call.signal } : {}),
      },
    );
  }

  /** GET /nodes/{node}/qemu ("vmlist"): the node's VMs with this name, templates left out. */
  async findByName(name: string, call: CallOptions = {}): Promise<NodeRef[]> {
    const node = this.opts.requireString("node");
    const vms = await this.data(
      this.client(call).request("GET", `/nodes/${enc(node)}/qemu`),
      `list VMs on ${node}`,
      PROXMOX_VM_LIST,
    );
    return vms
      .filter((vm) => vm.name === name && !vm.template)
      .map((vm) => ({ platform: "proxmox" as const, id: vm.vmid, name, location: { node } }));
  }

  waitUntilRunning(ref: NodeRef, options: WaitOptions = {}): Promise<NodeInfo> {
    return waitForRunning(() => this.get(ref, options.signal ? { signal: options.signal } : {}), ref, {
      intervalMs: this.options.pollIntervalMs ?? 2000,
      ...options,
    });
  }

  private cloneParams(spec: DeploySpec, vmid: string, o: OptionReader): Record<string, string | number> {
    const params: Record<string, string | number> = {
      newid: vmid,
      name: spec.name,
      full: o.bool("linked_clone") ? 0 : 1,
    };
    const storage = o.string("storage");
    if (storage && !o.bool("linked_clone")) params.storage = storage;
    const pool = o.string("pool");
    if (pool) params.pool = pool;
    return params;
  }

  private configParams(spec: ResolvedSpec): Record<string, string | number> {
    const params: Record<string, string | number> = { cores: spec.cores, memory: spec.memory_mib };
    const n = spec.resolvedNetwork;
    if (n.mode === "static") {
      params.ipconfig0 = `ip=${n.ip}/${n.prefix},gw=${n.gateway}`;
      params.nameserver = n.dns.join(" ");
    } else params.ipconfig0 = "ip=dhcp";
    if (n.attach) params.net0 = `${spec.os.family === "windows" ? "e1000" : "virtio"},bridge=${n.attach}`;
    // Proxmox wants sshkeys URL-encoded (one key per line).
    if (spec.ssh_authorized_keys?.length)
      params.sshkeys = encodeURIComponent(spec.ssh_authorized_keys.join("\n"));
    const user = new OptionReader("proxmox", spec).string("ciuser");
    if (user) params.ciuser = user;
    return params;
  }

  private plannedDisk(spec: DeploySpec): string {
    return spec.os.family === "windows"
      ? "sata0"
      : (new OptionReader("proxmox", spec).string("disk") ?? "<template system disk, e.g. scsi0>");
  }

  private nodeOf(ref: NodeRef): string {
    return ref.location?.node ?? this.opts.requireString("node");
  }

  private client(call: CallOptions): HttpJsonClient {
    if (this.http && !call.onCall) return this.http;
    const url = this.opts.requireString("url", "PROXMOX_URL", this.env).replace(/\/$/, "");
    const client = proxmoxClient(url, this.env, {
      insecureTls: this.opts.bool("insecure_tls") === true,
      ca: this.opts.caPem(),
      ...(call.onCall ? { onCall: call.onCall } : {}),
    });
    if (!call.onCall) this.http = client;
    return client;
  }

  /**
   * Unwraps Proxmox's `{data: ...}` envelope and checks its shape (apidata's "returns"); errors carry
   * the reason phrase Proxmox puts its message in.
   */
  private data<T>(pending: Promise<HttpResponse>, what: string, shape: Shape<T>): Promise<T> {
    return proxmoxData(pending, what, shape, proxmoxError);
  }

  private async waitTask(
    node: string,
    upid: string,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const api = this.client({});
    const final = await pollUntil(
      `Proxmox task ${what}`,
      () =>
        this.data(
          api.request("GET", `/nodes/${enc(node)}/tasks/${enc(upid)}/status`),
          `task status ${upid}`,
          TASK_STATUS,
        ) as Promise<{ status: string; exitstatus?: string }>,
      (t) => t.status === "stopped",
      {
        intervalMs: this.options.pollIntervalMs ?? 1000,
        timeoutMs: this.options.taskTimeoutMs ?? 900_000,
        ...(signal ? { signal } : {}),
      },
    );
    // "WARNINGS: n" is how Proxmox ends a task that succeeded with warnings (e.g. qmstart); only other statuses failed.
    if (final.exitstatus !== "OK" && !/^WARNINGS: \d+$/.test(final.exitstatus ?? "")) {
      throw new PlatformApiError(
        "proxmox",
        "PLATFORM_TASK_FAILED",
        `Proxmox task ${what} failed: ${final.exitstatus ?? "no exit status"}.`,
        {
          hint: `Read the task log: GET /nodes/${node}/tasks/${upid}/log (or the Tasks panel in the web UI).`,
          details: { upid },
        },
      );
    }
  }
}

/** The shapes apidata documents for the answers the adapter uses. */
const VMID = shapes.integerId("a VMID (integer from 100)", 100);
const UPID = shapes.stringMatching("a task id (UPID:...)", /^UPID:[^:\s]+:[0-9A-Fa-f]{8}:/);
const VM_STATUS = shapes.record("a VM status object", ["status"]);
const TASK_STATUS = shapes.record("a task status object", ["status"]);
function enc(s: string): string {
  return encodeURIComponent(s);
}

/** The disk the VM boots from: the first disk in `boot: order=...`, else the first disk key. */
function systemDisk(config: Record<string, string | number>): string | undefined {
  const order = /order=([^,\s]+)/.exec(String(config.boot ?? ""))?.[1]?.split(";") ?? [];
  const fromBoot = order.find(
    (k) => DISK_KEYS.test(k) && config[k] !== undefined && !String(config[k]).includes("media=cdrom"),
  );
  if (fromBoot) return fromBoot;
  return Object.keys(config)
    .filter(
      (k) =>
        DISK_KEYS.test(k) &&
        !String(config[k]).includes("media=cdrom") &&
        !String(config[k]).includes("cloudinit"),
    )
    .sort()[0];
}

function round(gb: number): number {
  return Math.round(gb * 10) / 10;
}

function sizeInGb(disk: string): number | undefined {
  const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)/.exec(disk);
  if (!m) return undefined;
  const factor = { K: 1 / 1024 / 1024, M: 1 / 1024, G: 1, T: 1024, "": 1 / 1024 ** 3 }[m[2] as "K"] ?? 1;
  return Number(m[1]) * factor;
}

/**
 * A config lock (apidata qemu "lock" enum: backup, clone, create, migrate, rollback, snapshot, snapshot-delete,
 * suspending, suspended) means a task owns the VM and refuses config, power and delete calls ("VM is locked
 * (backup)", PVE/AbstractConfig.pm check_lock) until it ends: pending. Only "suspended" is a resting state
 * (hibernated to disk): stopped.
 */
function proxmoxState(s: { status?: string; qmpstatus?: string; lock?: string }): NodeState {
  if (s.lock === "suspended") return "stopped";
  if (s.lock) return "pending";
  switch (s.qmpstatus ?? s.status) {
    case "running":
      return "running";
    case "stopped":
    case "paused":
    case "suspended":
    case "prelaunch":
      return s.qmpstatus === "prelaunch" ? "pending" : "stopped";
    default:
      return s.status === "running" ? "running" : s.status === "stopped" ? "stopped" : "unknown";
  }
}

/** The clone lost the nextid race: the VMID exists now, created by someone else (sync check or in the task). */
function vmidTaken(error: unknown, vmid: string): boolean {
  if (!(error instanceof PlatformApiError)) return false;
  return new RegExp(
    `VM ${vmid} already exists on node|unable to create VM ${vmid}: config file already exists`,
  ).test(error.message);
}

function isMissingVm(res: HttpResponse): boolean {
  return (
    (res.status === 500 || res.status === 404) &&
    /does not exist|no such VM/i.test(res.statusMessage + res.text)
  );
}

function proxmoxError(res: HttpResponse, what: string): PlatformApiError {
  const body = res.body as { errors?: Record<string, string>; message?: string } | undefined;
  const detail =
    body && typeof body === "object" && body.errors
      ? Object.entries(body.errors)
          .map(([k, v]) => `${k}: ${String(v).trim()}`)
          .join("; ")
      : res.statusMessage;
  if (res.status === 401) {
    return new PlatformApiError(
      "proxmox",
      "PLATFORM_AUTH_FAILED",
      `Proxmox rejected the API token (${what}: 401 ${res.statusMessage}).`,
      {
        status: 401,
        hint: "Check PROXMOX_TOKEN_ID (user@realm!tokenid) and PROXMOX_TOKEN_SECRET; create one under Datacenter → Permissions → API Tokens.",
      },
    );
  }
  if (res.status === 403) {
    return new PlatformApiError(
      "proxmox",
      "PLATFORM_PERMISSION_DENIED",
      `Proxmox refused ${what}: ${detail}.`,
      {
        status: 403,
        hint: "Give the token's user (and the token, if privilege-separated) the named permission, e.g. the PVEVMAdmin role on /vms.",
      },
    );
  }
  if (isMissingVm(res)) {
    return new PlatformApiError("proxmox", "PLATFORM_NOT_FOUND", `Proxmox: ${what} failed: ${detail}.`, {
      status: res.status,
      hint: "Check the VMID and node.",
    });
  }
  return new PlatformApiError(
    "proxmox",
    res.status === 400 ? "PLATFORM_BAD_REQUEST" : "PLATFORM_API_ERROR",
    `Proxmox: ${what} failed (${res.status}): ${detail}.`,
    {
      status: res.status,
      hint: "Fix what Proxmox names above; `labgate deploy plan` shows every parameter sent.",
    },
  );
}
