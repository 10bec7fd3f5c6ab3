import { randomBytes } from "node:crypto";
import { type SimReply, type SimRequest, startSim } from "./http-sim.js";
import { selfSignedCertificate } from "./self-signed.js";

/**
 * Azure Resource Manager simulator (HTTPS on 127.0.0.1, self-signed): bearer-token check,
 * api-version required, {error: {code, message}} errors, and long-running operations the ARM way —
 * 201/202 with an Azure-AsyncOperation URL that reports InProgress for `pollsUntilDone` polls, then Succeeded.
 */
interface Resource {
  id: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
  properties: Record<string, unknown>;
}

export async function startAzureSim(options: { token: string; pollsUntilDone?: number }) {
  const tls = selfSignedCertificate();
  const resources = new Map<string, Resource>();
  const operations = new Map<
    string,
    { polls: number; done: () => void; error?: { code: string; message: string } }
  >();
  const power = new Map<string, string>();
  let nicSeq = 4;
  let base = "";
  const error = (status: number, code: string, message: string): SimReply => ({
    status,
    body: { error: { code, message } },
  });
  const startOperation = (
    location: string,
    apiVersion: string,
    done: () => void,
    failure?: { code: string; message: string },
  ) => {
    const id = randomBytes(8).toString("hex");
    operations.set(id, { polls: options.pollsUntilDone ?? 1, done, ...(failure ? { error: failure } : {}) });
    const url = `${base}/subscriptions/sim/providers/Microsoft.Compute/locations/${location}/operations/${id}?api-version=${apiVersion}`;
    return { "Azure-AsyncOperation": url, Location: url, "Retry-After": "0" };
  };
  const view = (r: Resource, expand: boolean) => {
    const body: Resource = { ...r, properties: { ...r.properties } };
    if (expand && r.id.includes("/virtualMachines/")) {
      body.properties.instanceView = {
        statuses: [
          {
            code: `ProvisioningState/${String(r.properties.provisioningState).toLowerCase()}`,
            level: "Info",
          },
          ...(power.has(r.id) ? [{ code: `PowerState/${power.get(r.id)}`, level: "Info" }] : []),
        ],
      };
    }
    return body;
  };
  const handle = (req: SimRequest): SimReply => {
    if (req.headers.authorization !== `Bearer ${options.token}`)
      return error(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing or invalid.",
      );
    const apiVersion = req.query.get("api-version");
    if (!apiVersion)
      return error(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
      );
    const op = /\/operations\/([0-9a-f]+)$/.exec(req.path);
    if (op && req.method === "GET") {
      const o = operations.get(op[1] as string);
      if (!o) return error(404, "NotFound", "No such operation.");
      if (o.polls-- > 0) return { status: 200, body: { status: "InProgress" } };
      if (o.error) return { status: 200, body: { status: "Failed", error: o.error } };
      o.done();
      return { status: 200, body: { status: "Succeeded" } };
    }
    const action = /^(.*\/virtualMachines\/[^/]+)\/(start|deallocate|powerOff)$/i.exec(req.path);
    if (action && req.method === "POST") {
      const vm = resources.get((action[1] as string).toLowerCase());
      if (!vm) return error(404, "ResourceNotFound", `The Resource '${action[1]}' was not found.`);
      const verb = (action[2] as string).toLowerCase();
      power.set(vm.id, verb === "start" ? "starting" : "deallocating");
      return {
        status: 202,
        headers: startOperation(vm.location, apiVersion, () =>
          power.set(vm.id, verb === "start" ? "running" : verb === "powerOff" ? "stopped" : "deallocated"),
        ),
      };
    }
    const key = req.path.toLowerCase();
    const existing = resources.get(key);
    if (req.method === "GET") {
      if (!existing)
        return error(
          404,
          "ResourceNotFound",
          `The Resource '${req.path}' under resource group was not found.`,
        );
      return { status: 200, body: view(existing, req.query.get("$expand") === "instanceView") };
    }
    if (req.method === "PUT") {
      const body = req.json as {
        location?: string;
        tags?: Record<string, string>;
        properties?: Record<string, unknown>;
      };
      if (!body?.location)
        return error(400, "LocationRequired", "The location property is required for this definition.");
      const name = req.path.split("/").pop() as string;
      const properties: Record<string, unknown> = { ...body.properties, provisioningState: "Updating" };
      if (req.path.includes("/networkInterfaces/")) {
        const configs =
          (properties.ipConfigurations as
            | { name: string; properties: Record<string, unknown> }[]
            | undefined) ?? [];
        if (configs.length === 0) return error(400, "InvalidRequestFormat", "ipConfigurations is required.");
        for (const c of configs) {
          if (!(c.properties.subnet as { id?: string } | undefined)?.id)
            return error(400, "InvalidRequestFormat", "subnet.id is required.");
          if (c.properties.privateIPAllocationMethod === "Static" && !c.properties.privateIPAddress)
            return error(400, "PrivateIPAddressIsRequired", "A static allocation needs privateIPAddress.");
          if (c.properties.privateIPAllocationMethod !== "Static")
            c.properties.privateIPAddress = `10.1.0.${nicSeq++}`;
        }
      }
      if (req.path.includes("/virtualMachines/")) {
        const nics =
          (properties.networkProfile as { networkInterfaces?: { id: string }[] } | undefined)
            ?.networkInterfaces ?? [];
        const missing = nics.find((n) => !resources.has(n.id.toLowerCase()));
        if (nics.length === 0 || missing)
          return error(400, "NotFound", `Resource ${missing?.id ?? "networkInterfaces"} not found.`);
        power.set(req.path, "starting");
      }
      const resource: Resource = {
        id: req.path,
        name,
        location: body.location,
        ...(body.tags ? { tags: body.tags } : {}),
        properties,
      };
      resources.set(key, resource);
      return {
        status: existing ? 200 : 201,
        body: resource,
        headers: startOperation(body.location, apiVersion, () => {
          resource.properties.provisioningState = "Succeeded";
          if (power.has(resource.id)) power.set(resource.id, "running");
        }),
      };
    }
    if (req.method === "DELETE") {
      if (!existing) return { status: 204 };
      if (key.includes("/networkinterfaces/")) {
        const user = [...resources.values()].find((r) =>
          JSON.stringify(r.properties.networkProfile ?? {})
            .toLowerCase()
            .includes(key),
        );
        if (user)
          return error(
            400,
            "NicInUse",
            `Network Interface ${existing.id} is used by existing resource ${user.id}.`,
          );
      }
      existing.properties.provisioningState = "Deleting";
      return {
        status: 202,
        headers: startOperation(existing.location, apiVersion, () => resources.delete(key)),
      };
    }
    return error(405, "MethodNotAllowed", `${req.method} is not supported here.`);
  };
  const server = await startSim(handle, tls);
  base = server.url;
  return { ...server, resources, power, ca: tls.cert };
}
