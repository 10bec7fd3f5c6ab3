import { randomBytes } from "node:crypto";
import { type SimReply, type SimRequest, startSim } from "./http-sim.js";

/**
 * vSphere Automation REST API (/api, vSphere 7.0U2+) simulator: Basic-auth sessions, the
 * vmware-api-session-id header, {error_type, messages} errors, VMs with power states.
 */
export interface SimVsphereVm {
  name: string;
  power_state: "POWERED_ON" | "POWERED_OFF" | "SUSPENDED";
  cpu: { count: number };
  memory: { size_MiB: number };
  spec?: unknown;
  customization?: unknown;
  template?: boolean;
}

export async function startVsphereSim(options: { user: string; password: string }) {
  const vms = new Map<string, SimVsphereVm>();
  const sessions = new Set<string>();
  let seq = 1000;
  const err = (status: number, error_type: string, message: string): SimReply => ({
    status,
    body: {
      error_type,
      messages: [{ id: `vapi.${error_type.toLowerCase()}`, default_message: message, args: [] }],
    },
  });
  const handle = (req: SimRequest): SimReply => {
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
      return {
        status: 200,
        body: [...vms]
          .filter(([, v]) => !names || names.includes(v.name))
          .map(([vm, v]) => ({ vm, name: v.name, power_state: v.power_state })),
      };
    }
    if (req.path === "/api/vcenter/vm" && req.method === "POST") {
      const action = req.query.get("action");
      if (action === "clone") {
        const source = vms.get(String(body.source));
        if (!source) return err(404, "NOT_FOUND", `Source VM ${String(body.source)} not found.`);
        if (typeof body.name !== "string") return err(400, "INVALID_ARGUMENT", "Missing name.");
        const id = `vm-${++seq}`;
        vms.set(id, {
          ...source,
          name: body.name,
          template: false,
          power_state: body.power_on ? "POWERED_ON" : "POWERED_OFF",
        });
        return { status: 200, body: id };
      }
      if (action) return err(400, "INVALID_ARGUMENT", `Unknown action ${action}.`);
      const cpu = body.cpu as { count?: number } | undefined;
      const memory = body.memory as { size_MiB?: number } | undefined;
      if (typeof body.name !== "string" || !body.placement)
        return err(400, "INVALID_ARGUMENT", "name and placement are required.");
      const id = `vm-${++seq}`;
      vms.set(id, {
        name: body.name,
        power_state: "POWERED_OFF",
        cpu: { count: cpu?.count ?? 1 },
        memory: { size_MiB: memory?.size_MiB ?? 1024 },
        spec: body,
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
    if (sub === "/guest/customization" && req.method === "PUT") {
      if (vm.power_state !== "POWERED_OFF")
        return err(400, "NOT_ALLOWED_IN_CURRENT_STATE", "Customization needs a powered-off VM.");
      vm.customization = body;
      return { status: 204 };
    }
    if (sub === "/guest/identity" && req.method === "GET") {
      if (vm.power_state !== "POWERED_ON")
        return err(503, "SERVICE_UNAVAILABLE", "VMware Tools is not running.");
      const meta = JSON.parse(
        (
          vm.customization as {
            spec?: { configuration_spec?: { cloud_config?: { cloudinit?: { metadata?: string } } } };
          }
        )?.spec?.configuration_spec?.cloud_config?.cloudinit?.metadata ?? "{}",
      );
      const ip = String(meta.network?.ethernets?.primary?.addresses?.[0] ?? "").split("/")[0];
      return { status: 200, body: { name: "UBUNTU_64", host_name: vm.name, ip_address: ip || undefined } };
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
  const server = await startSim(handle);
  return { ...server, vms, sessions };
}
