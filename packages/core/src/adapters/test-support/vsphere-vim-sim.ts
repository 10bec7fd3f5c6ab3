import { randomBytes } from "node:crypto";
import type { SimReply, SimRequest } from "./http-sim.js";
import type { SimVsphereVm } from "./vsphere-sim.js";

/**
 * The VI/JSON API of the vCenter simulator (/sdk/vim25/{release}, vCenter 8.0U1+): the ServiceInstance
 * content, SessionManager Login (session in the vmware-api-session-id response header), VirtualMachine
 * config reads, ReconfigVM_Task with extraConfig / disk edits returning a Task MoRef, and Task info that
 * is queued/running for `taskPolls` reads before it ends. Faults are vim25 fault objects with _typeName.
 */
export interface VimState {
  vms: Map<string, SimVsphereVm>;
  sessions: Set<string>;
  tasks: Map<string, { polls: number; apply: () => string | undefined; state?: string; error?: string }>;
  user: string;
  password: string;
  taskPolls: number;
  /** AboutInfo.apiType: "VirtualCenter" on vCenter, "HostAgent" on a standalone ESXi host. */
  apiType?: "VirtualCenter" | "HostAgent";
}

const RELEASES = /^\/sdk\/vim25\/(8\.0\.[1-3]\.0|9\.0\.0\.0)(\/.*)$/;
let taskSeq = 100;

const fault = (
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown> = {},
): SimReply => ({
  status,
  body: {
    _typeName: type,
    faultCause: null,
    faultMessage: [{ _typeName: "LocalizableMessage", key: type, message }],
    ...extra,
  },
});

const moref = (type: string, value: string) => ({ _typeName: "ManagedObjectReference", type, value });

export function handleVimJson(state: VimState, req: SimRequest): SimReply {
  const m = RELEASES.exec(req.path);
  if (!m) return { status: 404, text: "Not Found", headers: { "content-type": "text/plain" } };
  const path = m[2] as string;
  if (req.method === "GET" && path === "/ServiceInstance/ServiceInstance/content") {
    return {
      status: 200,
      body: {
        _typeName: "ServiceContent",
        sessionManager: moref("SessionManager", "SessionManager"),
        propertyCollector: moref("PropertyCollector", "propertyCollector"),
        about: { _typeName: "AboutInfo", apiType: state.apiType ?? "VirtualCenter", apiVersion: m[1] },
      },
    };
  }
  if (req.method === "POST" && path === "/SessionManager/SessionManager/Login") {
    const body = (req.json ?? {}) as { userName?: string; password?: string };
    if (body.userName !== state.user || body.password !== state.password)
      return fault(500, "InvalidLogin", "Cannot complete login due to an incorrect user name or password.");
    const id = randomBytes(20).toString("hex");
    state.sessions.add(id);
    return {
      status: 200,
      headers: { "vmware-api-session-id": id },
      body: { _typeName: "UserSession", userName: body.userName },
    };
  }
  if (!state.sessions.has(String(req.headers["vmware-api-session-id"] ?? "")))
    return fault(401, "NotAuthenticated", "The session is not authenticated.");

  const task = /^\/Task\/([^/]+)\/info$/.exec(path);
  if (task && req.method === "GET") {
    const t = state.tasks.get(task[1] as string);
    if (!t)
      return fault(
        500,
        "ManagedObjectNotFound",
        `The object 'vim.Task:${task[1]}' has already been deleted or has not been completely created`,
        { obj: moref("Task", task[1] as string) },
      );
    if (t.polls > 0) {
      t.polls -= 1;
      return {
        status: 200,
        body: { _typeName: "TaskInfo", key: task[1], state: t.polls > 0 ? "queued" : "running" },
      };
    }
    if (!t.state) {
      t.error = t.apply();
      t.state = t.error ? "error" : "success";
    }
    return {
      status: 200,
      body: {
        _typeName: "TaskInfo",
        key: task[1],
        state: t.state,
        ...(t.error ? { error: { _typeName: "LocalizedMethodFault", localizedMessage: t.error } } : {}),
      },
    };
  }
  const vmPath = /^\/VirtualMachine\/([^/]+)\/(config|ReconfigVM_Task)$/.exec(path);
  if (!vmPath) return fault(404, "InvalidRequest", `No such path ${path}.`);
  const id = vmPath[1] as string;
  const vm = state.vms.get(id);
  if (!vm)
    return fault(
      500,
      "ManagedObjectNotFound",
      `The object 'vim.VirtualMachine:${id}' has already been deleted or has not been completely created`,
      { obj: moref("VirtualMachine", id) },
    );
  if (vmPath[2] === "config" && req.method === "GET") return { status: 200, body: configInfo(vm) };
  if (vmPath[2] === "ReconfigVM_Task" && req.method === "POST") return reconfigure(state, vm, req.json);
  return fault(405, "InvalidRequest", `${req.method} is not allowed on ${path}.`);
}

function reconfigure(state: VimState, vm: SimVsphereVm, json: unknown): SimReply {
  const spec = (json as { spec?: Record<string, unknown> } | undefined)?.spec;
  if (spec?._typeName !== "VirtualMachineConfigSpec")
    return fault(500, "InvalidArgument", "spec must be a VirtualMachineConfigSpec.", {
      invalidProperty: "spec",
    });
  const extra = (spec.extraConfig ?? []) as {
    _typeName?: string;
    key?: unknown;
    value?: { _typeName?: string; _value?: unknown };
  }[];
  const badOption = extra.find(
    (o) =>
      o._typeName !== "OptionValue" ||
      typeof o.key !== "string" ||
      o.value?._typeName !== "string" ||
      typeof o.value._value !== "string",
  );
  if (badOption)
    return fault(
      500,
      "InvalidArgument",
      "extraConfig entries must be OptionValue {key, value: {_typeName: string, _value}}.",
      { invalidProperty: "spec.extraConfig" },
    );
  const edits = (spec.deviceChange ?? []) as {
    operation?: string;
    device?: { _typeName?: string; key?: number; capacityInKB?: number };
  }[];
  const taskId = `task-${++taskSeq}`;
  state.tasks.set(taskId, {
    polls: state.taskPolls,
    apply: () => {
      for (const e of edits) {
        const disk = vm.disks?.get(String(e.device?.key));
        if (e.operation !== "edit" || e.device?._typeName !== "VirtualDisk" || !disk)
          return "Invalid configuration for device '0'.";
        const bytes = Number(e.device.capacityInKB) * 1024;
        if (bytes < disk.capacityBytes) return "The disk capacity cannot be decreased.";
        disk.capacityBytes = bytes;
      }
      vm.extraConfig = {
        ...vm.extraConfig,
        ...Object.fromEntries(extra.map((o) => [o.key as string, o.value?._value as string])),
      };
      return undefined;
    },
  });
  return { status: 200, body: moref("Task", taskId) };
}

function configInfo(vm: SimVsphereVm) {
  return {
    _typeName: "VirtualMachineConfigInfo",
    name: vm.name,
    template: vm.template === true,
    extraConfig: Object.entries(vm.extraConfig ?? {}).map(([key, value]) => ({
      _typeName: "OptionValue",
      key,
      value: { _typeName: "string", _value: value },
    })),
    // Real configs list the boot order only when one is set (VirtualMachineBootOptions.bootOrder).
    ...(vm.bootDisks?.length
      ? {
          bootOptions: {
            _typeName: "VirtualMachineBootOptions",
            bootOrder: vm.bootDisks.map((key) => ({
              _typeName: "VirtualMachineBootOptionsBootableDiskDevice",
              deviceKey: Number(key),
            })),
          },
        }
      : {}),
    hardware: {
      _typeName: "VirtualHardware",
      numCPU: vm.cpu.count,
      memoryMB: vm.memory.size_MiB,
      device: [...(vm.disks ?? [])].map(([key, d], _, all) => ({
        _typeName: "VirtualDisk",
        key: Number(key),
        controllerKey: d.type === "SATA" ? 15000 : 1000,
        // Units count up per controller in the order the disks were attached.
        unitNumber: all.filter(([k, o]) => o.type === d.type && Number(k) < Number(key)).length,
        capacityInKB: Math.round(d.capacityBytes / 1024),
        capacityInBytes: d.capacityBytes,
        backing: {
          _typeName: "VirtualDiskFlatVer2BackingInfo",
          fileName: d.vmdk_file,
          diskMode: "persistent",
          thinProvisioned: true,
        },
      })),
    },
  };
}
