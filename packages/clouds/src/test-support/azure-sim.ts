import { randomBytes } from "node:crypto";
import {
  type SimReply,
  type SimRequest,
  startSim,
} from "../../../core/src/adapters/test-support/http-sim.js";
import { selfSignedCertificate } from "../../../core/src/adapters/test-support/self-signed.js";

/**
 * Azure Resource Manager simulator (HTTPS on 127.0.0.1, self-signed): bearer-token check,
 * api-version required, {error: {code, message}} errors, and long-running operations the ARM way —
 * 201/202 with an Azure-AsyncOperation URL that reports InProgress for `pollsUntilDone` polls, then Succeeded.
 *
 * Modelled from Microsoft's documentation:
 * - Failed provisioning (learn.microsoft.com/azure/virtual-machines/states-billing, "Provisioning states";
 *   troubleshooting pages for OSProvisioningTimedOut / AllocationFailed): the create operation ends Failed with
 *   {code, message}, and the instance view carries ProvisioningState/failed/<Code> (level Error,
 *   displayStatus "Provisioning failed") with no PowerState.
 * - Marketplace images (REST "Virtual Machine Images - List / Get", and
 *   learn.microsoft.com/azure/virtual-machines/linux/cli-ps-findimage "Deploy an image with Marketplace terms"):
 *   an image may carry a purchase plan; a VM from it without `plan` is refused (VMMarketplaceInvalidInput),
 *   with a plan whose terms the subscription has not accepted too (ResourcePurchaseValidationFailed).
 */
export interface SimMarketplaceImage {
  publisher: string;
  offer: string;
  sku: string;
  version: string;
  plan?: { name: string; publisher: string; product: string };
}

export const SIM_MARKETPLACE: SimMarketplaceImage[] = [
  {
    publisher: "Canonical",
    offer: "0001-com-ubuntu-server-jammy",
    sku: "22_04-lts-gen2",
    version: "22.04.202409270",
  },
  {
    publisher: "Canonical",
    offer: "0001-com-ubuntu-server-jammy",
    sku: "22_04-lts-gen2",
    version: "22.04.202410020",
  },
  { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server", version: "24.04.202410010" },
  ...["7.4.3", "7.4.4"].map((version) => ({
    publisher: "fortinet",
    offer: "fortinet_fortigate-vm_v5",
    sku: "fortinet_fg-vm_payg_2023",
    version,
    plan: { name: "fortinet_fg-vm_payg_2023", publisher: "fortinet", product: "fortinet_fortigate-vm_v5" },
  })),
];

/** Versions compare numerically part by part, as the $orderby=name desc listing sorts them. */
function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
interface Resource {
  id: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
  properties: Record<string, unknown>;
}

export async function startAzureSim(options: {
  token: string;
  pollsUntilDone?: number;
  images?: SimMarketplaceImage[];
  /** Accepted marketplace terms, "publisher:product:plan". */
  acceptedTerms?: string[];
  /** VMs (by name) whose provisioning fails with this error, e.g. {code: "OSProvisioningTimedOut", ...}. */
  failProvisioning?: Record<string, { code: string; message: string }>;
  /** Replaces an answer (a proxy's login page, a changed API): gets each request and the simulator's own reply. */
  intercept?: (req: SimRequest, reply: SimReply) => SimReply | Promise<SimReply>;
}) {
  const catalog = options.images ?? SIM_MARKETPLACE;
  const accepted = new Set(options.acceptedTerms ?? []);
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
      const failure =
        r.properties.provisioningState === "Failed" ? options.failProvisioning?.[r.name] : undefined;
      body.properties.instanceView = {
        statuses: [
          failure
            ? {
                code: `ProvisioningState/failed/${failure.code}`,
                level: "Error",
                displayStatus: "Provisioning failed",
                message: failure.message,
              }
            : {
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
    const images =
      /\/locations\/([^/]+)\/publishers\/([^/]+)\/artifacttypes\/vmimage\/offers\/([^/]+)\/skus\/([^/]+)\/versions(?:\/([^/]+))?$/i.exec(
        req.path,
      );
    if (images && req.method === "GET") {
      const [, location, publisher, offer, sku, version] = images as unknown as string[];
      const same = (a: string | undefined, b: string | undefined) => a?.toLowerCase() === b?.toLowerCase();
      const matches = catalog
        .filter((i) => same(i.publisher, publisher) && same(i.offer, offer) && same(i.sku, sku))
        .sort((a, b) => compareVersions(b.version, a.version));
      const resource = (i: SimMarketplaceImage) => ({
        id: `${req.path.replace(/\/versions.*$/i, "")}/versions/${i.version}`,
        name: i.version,
        location,
      });
      if (version === undefined) {
        const top = Number(req.query.get("$top") ?? matches.length);
        const ordered = /desc/i.test(req.query.get("$orderby") ?? "") ? matches : [...matches].reverse();
        return { status: 200, body: ordered.slice(0, top).map(resource) };
      }
      const image = matches.find((i) => i.version === version);
      if (!image) return error(404, "ImageNotFound", `Artifact: VMImage was not found.`);
      return {
        status: 200,
        body: {
          ...resource(image),
          properties: {
            ...(image.plan ? { plan: image.plan } : {}),
            osDiskImage: { operatingSystem: "Linux" },
            hyperVGeneration: "V2",
          },
        },
      };
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
        const ref = (properties.storageProfile as { imageReference?: Record<string, string> } | undefined)
          ?.imageReference;
        const urn = `${ref?.publisher}:${ref?.offer}:${ref?.sku}:${ref?.version}`;
        const image = catalog.find(
          (i) =>
            i.publisher.toLowerCase() === ref?.publisher?.toLowerCase() &&
            i.offer.toLowerCase() === ref?.offer?.toLowerCase() &&
            i.sku.toLowerCase() === ref?.sku?.toLowerCase() &&
            (ref?.version === "latest" || i.version === ref?.version),
        );
        if (!image)
          return error(
            404,
            "PlatformImageNotFound",
            `The platform image '${urn}' is not available. Verify that all fields in the storage profile are correct.`,
          );
        const plan = (body as { plan?: { name?: string; publisher?: string; product?: string } }).plan;
        if (image.plan) {
          if (!plan)
            return error(
              400,
              "VMMarketplaceInvalidInput",
              `Creating a virtual machine from Marketplace image or a custom image sourced from a Marketplace image requires Plan information in the request. VM: '${req.path}'.`,
            );
          if (
            plan.name !== image.plan.name ||
            plan.publisher !== image.plan.publisher ||
            plan.product !== image.plan.product
          )
            return error(
              400,
              "VMMarketplaceInvalidInput",
              `The purchase information does not match. Unable to deploy from the Marketplace image. OS disk name is '${name}'.`,
            );
          if (!accepted.has(`${plan.publisher}:${plan.product}:${plan.name}`))
            return error(
              400,
              "ResourcePurchaseValidationFailed",
              `User failed validation to purchase resources. Error message: 'You have not accepted the legal terms on this subscription: 'sim' for this plan. Before the subscription can be used, you need to accept the legal terms of the image.'`,
            );
        }
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
      const failure = req.path.includes("/virtualMachines/") ? options.failProvisioning?.[name] : undefined;
      if (failure) {
        // The operation fails and leaves the VM behind in Failed, without a power state.
        power.delete(resource.id);
        resource.properties.provisioningState = "Failed";
      }
      return {
        status: existing ? 200 : 201,
        body: resource,
        headers: startOperation(
          body.location,
          apiVersion,
          () => {
            if (failure) return;
            resource.properties.provisioningState = "Succeeded";
            if (power.has(resource.id)) power.set(resource.id, "running");
          },
          failure,
        ),
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
  const intercept = options.intercept;
  const server = await startSim(intercept ? (req) => intercept(req, handle(req)) : handle, tls);
  base = server.url;
  return { ...server, resources, power, ca: tls.cert };
}
