import { PlatformApiError, PlatformConfigError } from "../errors.js";
import { registerSecret } from "../util/redact.js";
import type { HttpJsonClient, HttpResponse } from "./http-json.js";
import { checkJsonBody, isRecord, type Shape, shapes } from "./response-shape.js";
import type { WaitOptions } from "./types.js";
import { pollUntil } from "./wait.js";

/** The first vCenter release that serves the VI/JSON API (8.0 Update 1). */
export const DEFAULT_VIM_RELEASE = "8.0.1.0";

/** A vim25 ManagedObjectReference as VI/JSON writes it. */
export interface MoRef {
  _typeName?: string;
  type: string;
  value: string;
}

/**
 * The vSphere Web Services API over its JSON protocol (VI/JSON, /sdk/vim25/{release}, vCenter 8.0U1+):
 * what the Automation REST API cannot do — setting a VM's extraConfig (the guestinfo keys cloud-init
 * reads) and growing a disk — through ReconfigVM_Task, with the returned Task polled until it ends.
 * govc does the same over SOAP (`govc vm.change -e`, `govc vm.disk.change -size`).
 */
export class VimJsonClient {
  private session: string | undefined;

  constructor(
    private readonly http: HttpJsonClient,
    private readonly credentials: () => [user: string, password: string],
    private readonly release = DEFAULT_VIM_RELEASE,
  ) {}

  /** Sets extraConfig keys (guestinfo.*) on a VM and waits for the reconfiguration task. */
  async setExtraConfig(vm: string, keys: Record<string, string>, wait: WaitOptions = {}): Promise<void> {
    const spec = {
      _typeName: "VirtualMachineConfigSpec",
      extraConfig: Object.entries(keys).map(([key, value]) => ({
        _typeName: "OptionValue",
        key,
        value: { _typeName: "string", _value: value },
      })),
    };
    await this.reconfigure(vm, spec, "set the guestinfo cloud-init keys", wait);
  }

  /** One extraConfig value of a VM (config.extraConfig, OptionValue list); undefined when it is not set. */
  async extraConfigValue(vm: string, key: string): Promise<string | undefined> {
    const config = await this.vmConfig(vm);
    const options = (config as { extraConfig?: unknown }).extraConfig;
    if (!Array.isArray(options)) return undefined;
    for (const o of options as { key?: unknown; value?: unknown }[]) {
      if (o?.key !== key) continue;
      const value = isRecord(o.value) ? o.value._value : o.value;
      return typeof value === "string" ? value : undefined;
    }
    return undefined;
  }

  /** GET VirtualMachine/{moId}/config: the VM's VirtualMachineConfigInfo, validated. */
  private vmConfig(vm: string) {
    return this.call(
      "GET",
      `/VirtualMachine/${enc(vm)}/config`,
      undefined,
      `read the configuration of ${vm}`,
      VM_CONFIG,
    );
  }

  /**
   * Grows the disk the VM boots from to `gb` (the first bootable disk in bootOptions.bootOrder, else the
   * disk at the lowest controller and unit, where the firmware looks first); one as large is left alone.
   * Data disks a template may list before its system disk are never touched.
   */
  async growBootDisk(vm: string, gb: number, wait: WaitOptions = {}): Promise<"grown" | "kept"> {
    const config = await this.vmConfig(vm);
    const disk = bootDisk(config);
    if (!disk)
      throw new PlatformApiError("esxi", "PLATFORM_NOT_FOUND", `VM ${vm} has no virtual disk to grow.`, {
        hint: "Check the template: it should have its system disk attached.",
      });
    const wantedKb = gb * 1024 * 1024;
    if (Number(disk.capacityInKB ?? 0) >= wantedKb) return "kept";
    const spec = {
      _typeName: "VirtualMachineConfigSpec",
      deviceChange: [
        {
          _typeName: "VirtualDeviceConfigSpec",
          operation: "edit",
          device: { ...disk, capacityInKB: wantedKb, capacityInBytes: wantedKb * 1024 },
        },
      ],
    };
    await this.reconfigure(vm, spec, `grow the disk to ${gb} GB`, wait);
    return "grown";
  }

  private async reconfigure(
    vm: string,
    spec: Record<string, unknown>,
    what: string,
    wait: WaitOptions,
  ): Promise<void> {
    const task = await this.call(
      "POST",
      `/VirtualMachine/${enc(vm)}/ReconfigVM_Task`,
      { spec },
      `${what} (ReconfigVM_Task on ${vm})`,
      TASK_REF,
    );
    const info = await pollUntil(
      `vSphere task ${task.value} (${what})`,
      () =>
        this.call("GET", `/Task/${enc(task.value)}/info`, undefined, `read task ${task.value}`, TASK_INFO),
      (i) => i.state === "success" || i.state === "error",
      { timeoutMs: 600_000, intervalMs: 1_000, ...wait },
    );
    if (info.state === "error") {
      throw new PlatformApiError(
        "esxi",
        "PLATFORM_TASK_FAILED",
        `vSphere could not ${what}: ${faultText(info.error)}.`,
        {
          hint: `See the task ${task.value} in the vSphere client's Recent Tasks.`,
          details: { task: task.value },
        },
      );
    }
  }

  private async call<T>(
    method: string,
    path: string,
    body: unknown,
    what: string,
    shape: Shape<T>,
  ): Promise<T> {
    if (!this.session) await this.login();
    let res = await this.send(method, path, body);
    if (res.status === 401) {
      // Sessions expire after 30 idle minutes; log in once more.
      await this.login();
      res = await this.send(method, path, body);
    }
    return unwrap(res, `${method} ${this.base()}${path} (${what})`, shape);
  }

  private send(method: string, path: string, body: unknown): Promise<HttpResponse> {
    return this.http.request(
      method,
      `${this.base()}${path}`,
      body === undefined ? undefined : { json: body },
      { "vmware-api-session-id": this.session ?? "" },
    );
  }

  private async login(): Promise<void> {
    // The ServiceInstance is readable without a session and names the SessionManager to log in with.
    const content = unwrap(
      await this.http.request("GET", `${this.base()}/ServiceInstance/ServiceInstance/content`),
      `GET ${this.base()}/ServiceInstance/ServiceInstance/content (read the vSphere service content; VI/JSON needs vCenter 8.0 Update 1 or later)`,
      SERVICE_CONTENT,
    );
    // AboutInfo.apiType is "HostAgent" on an ESXi host, "VirtualCenter" on vCenter.
    if (content.about?.apiType === "HostAgent") throw needsVcenter("its AboutInfo.apiType is HostAgent");
    const manager = content.sessionManager?.value ?? "SessionManager";
    const [userName, password] = this.credentials();
    const res = await this.http.request("POST", `${this.base()}/SessionManager/${enc(manager)}/Login`, {
      json: { userName, password },
    });
    const session = res.headers["vmware-api-session-id"];
    if (res.status >= 300 || typeof session !== "string" || session === "") {
      const fault = res.body as Fault | undefined;
      throw new PlatformApiError(
        "esxi",
        fault?._typeName === "InvalidLogin" || res.status === 401
          ? "PLATFORM_AUTH_FAILED"
          : "PLATFORM_API_ERROR",
        `vSphere VI/JSON login failed (${res.status}): ${faultText(fault)}.`,
        { status: res.status, hint: "Check VSPHERE_USER (user@vsphere.local) and VSPHERE_PASSWORD." },
      );
    }
    registerSecret(session);
    this.session = session;
  }

  private base(): string {
    return `/sdk/vim25/${this.release}`;
  }
}

/** The esxi platform drives vCenter; a URL that reaches a bare ESXi host (or an old vCenter) gets this. */
export function needsVcenter(evidence: string): PlatformConfigError {
  return new PlatformConfigError(
    "ESXI_NEEDS_VCENTER",
    `The vSphere URL is not a vCenter Server 7.0 Update 2 or later (${evidence}): the esxi platform needs vCenter's Automation REST API (/api/vcenter) and, for guestinfo, its VI/JSON API (8.0 Update 1+); a standalone ESXi host serves neither.`,
    {
      hint: "Point platform_options.esxi.url (or VSPHERE_URL) at the vCenter that manages the host; `labgate deploy check` lists what the platform needs.",
    },
  );
}

interface VmDevice extends Record<string, unknown> {
  _typeName?: string;
  key?: number;
  controllerKey?: number;
  unitNumber?: number;
  capacityInKB?: number;
}

interface VmConfig {
  hardware?: { device?: VmDevice[] };
  bootOptions?: { bootOrder?: { _typeName?: string; deviceKey?: number }[] };
}

function bootDisk(config: VmConfig): VmDevice | undefined {
  const devices = config.hardware?.device ?? [];
  const disks = devices.filter((d) => d._typeName === "VirtualDisk");
  const ordered = (config.bootOptions?.bootOrder ?? []).find(
    (b) => b._typeName === "VirtualMachineBootOptionsBootableDiskDevice",
  );
  const fromOrder = disks.find((d) => d.key === ordered?.deviceKey);
  if (fromOrder) return fromOrder;
  // Without a boot order: the lowest controller key and unit (SCSI 0:0 before SATA 0:0), where firmware looks first.
  return [...disks].sort(
    (a, b) => (a.controllerKey ?? 0) - (b.controllerKey ?? 0) || (a.unitNumber ?? 0) - (b.unitNumber ?? 0),
  )[0];
}

interface Fault {
  _typeName?: string;
  message?: string;
  localizedMessage?: string;
  faultMessage?: { message?: string }[];
}

function faultText(fault: Fault | undefined): string {
  if (!fault || typeof fault !== "object") return "no details";
  const messages = [
    fault.localizedMessage,
    fault.message,
    ...(fault.faultMessage ?? []).map((m) => m.message),
  ].filter((m): m is string => typeof m === "string" && m !== "");
  return [fault._typeName, ...messages].filter(Boolean).join(": ") || "no details";
}

/** A managed object id as vCenter writes them ("task-123", "vm-42", "SessionManager"): never empty, never a path. */
const MOREF_VALUE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$/;

function moref(expects: string, type?: string): Shape<MoRef> {
  return {
    expects,
    check: (v) =>
      isRecord(v) &&
      typeof v.value === "string" &&
      MOREF_VALUE.test(v.value) &&
      typeof v.type === "string" &&
      (type === undefined || v.type === type)
        ? (v as unknown as MoRef)
        : undefined,
  };
}

const TASK_REF = moref('a Task reference ({type: "Task", value: "task-N"})', "Task");
const TASK_INFO = {
  expects: "a TaskInfo with state queued, running, success or error",
  check: (v: unknown) =>
    isRecord(v) && typeof v.state === "string" && /^(queued|running|success|error)$/.test(v.state)
      ? (v as { state: string; error?: Fault })
      : undefined,
} satisfies Shape<{ state: string; error?: Fault }>;
const SERVICE_CONTENT = {
  expects: "a ServiceContent object (sessionManager, about)",
  check: (v: unknown) => {
    if (!isRecord(v)) return undefined;
    const manager = v.sessionManager === undefined ? undefined : moref("").check(v.sessionManager);
    if (v.sessionManager !== undefined && manager === undefined) return undefined;
    const about = isRecord(v.about) ? v.about : {};
    return {
      ...(manager ? { sessionManager: manager } : {}),
      about: typeof about.apiType === "string" ? { apiType: about.apiType } : {},
    };
  },
} satisfies Shape<{ sessionManager?: MoRef; about: { apiType?: string } }>;
const VM_CONFIG = {
  expects: "a VirtualMachineConfigInfo (hardware.device a list)",
  check: (v: unknown) =>
    isRecord(v) &&
    (v.hardware === undefined ||
      (isRecord(v.hardware) &&
        (v.hardware.device === undefined ||
          (Array.isArray(v.hardware.device) && v.hardware.device.every(isRecord)))))
      ? (v as VmConfig)
      : undefined,
} satisfies Shape<VmConfig>;

function unwrap<T>(res: HttpResponse, what: string, shape: Shape<T> = shapes.ignored as Shape<T>): T {
  if (res.status >= 200 && res.status < 300)
    return checkJsonBody("esxi", res, what, shape, "https://vcenter.lab");
  const fault = res.body as Fault | undefined;
  const type = typeof fault === "object" ? fault?._typeName : undefined;
  const code =
    type === "NotAuthenticated" || res.status === 401
      ? "PLATFORM_AUTH_FAILED"
      : type === "NoPermission"
        ? "PLATFORM_PERMISSION_DENIED"
        : type === "ManagedObjectNotFound" || res.status === 404
          ? "PLATFORM_NOT_FOUND"
          : "PLATFORM_API_ERROR";
  throw new PlatformApiError("esxi", code, `vSphere: ${what} failed (${res.status} ${faultText(fault)}).`, {
    status: res.status,
    hint:
      res.status === 404 && !type
        ? 'This vCenter does not serve the VI/JSON API (8.0 Update 1+): set platform_options.esxi.guest_config to "customization".'
        : "Fix what vSphere names above; `labgate deploy plan` shows every request body.",
  });
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
