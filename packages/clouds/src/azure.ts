import type { ComputeManagementClient, Plan, VirtualMachine } from "@azure/arm-compute";
import type { NetworkInterface, NetworkManagementClient } from "@azure/arm-network";
import type { TokenCredential } from "@azure/core-auth";
import {
  type CallOptions,
  cloudInitUserData,
  type DeploymentPlan,
  type DeploySpec,
  type Finding,
  INTENT_KEY,
  type NodeInfo,
  type NodeRef,
  type NodeState,
  type PlatformAdapter,
  PlatformApiError,
  type PlatformCapabilities,
  type ResolvedSpec,
  redact,
  registerSecret,
  type AdapterWaitOptions as WaitOptions,
  waitForRunning,
} from "@labgate/core";
import {
  checkField,
  claimOf,
  invalidResponse,
  isRecord,
  missingOption,
  nameTakenError,
  newClaim,
  OptionReader,
  requireEnv,
  type Shape,
  shapes,
} from "@labgate/core/adapter-kit";
import { loadSdk } from "./load-sdk.js";

/** The tag carrying the apply's claim, on the NIC and the VM. */
const INTENT_TAG = "labgate-intent";

export interface AzureAdapterOptions {
  /** platform_options.azure: subscription_id, resource_group, location, subnet_id, vm_size, admin_username, endpoint, ca_file. */
  spec?: DeploySpec;
  overrides?: Record<string, unknown>;
  /** Default: DefaultAzureCredential (env, workload identity, managed identity, Azure CLI ...). */
  credential?: TokenCredential;
  /** AZURE_SUBSCRIPTION_ID; AZURE_ADMIN_PASSWORD for Windows guests. */
  env?: NodeJS.ProcessEnv;
  pollIntervalMs?: number;
}

/** Azure VMs through @azure/arm-compute + @azure/arm-network: a NIC (DHCP unless static is asked), then the VM. */
export class AzureAdapter implements PlatformAdapter {
  readonly name = "azure" as const;
  readonly capabilities: PlatformCapabilities = {
    dhcpAvailable: true,
    windowsDiskBus: "scsi",
    imageFormats: ["marketplace", "vhd"],
    convertibleFormats: [],
    cloneFromTemplate: false,
    guestConfig: "custom-data",
  };
  private readonly env: NodeJS.ProcessEnv;
  private clients: { compute: ComputeManagementClient; network: NetworkManagementClient } | undefined;

  constructor(private readonly options: AzureAdapterOptions = {}) {
    this.env = options.env ?? process.env;
  }

  validate(spec: DeploySpec): Finding[] {
    const o = this.reader(spec);
    const out: Finding[] = [];
    if (!o.string("subscription_id") && !this.env.AZURE_SUBSCRIPTION_ID)
      out.push(missingOption("azure", "subscription_id", '"0000..."', "AZURE_SUBSCRIPTION_ID"));
    for (const [key, example] of [
      ["resource_group", '"lab-rg"'],
      ["location", '"westeurope"'],
      ["subnet_id", '"/subscriptions/.../subnets/default"'],
      ["vm_size", '"Standard_D2s_v5"'],
    ] as const) {
      if (!o.string(key)) out.push(missingOption("azure", key, example));
    }
    if (spec.image?.ref?.split(":").length !== 4) {
      out.push({
        code: "AZURE_IMAGE_URN",
        severity: "error",
        field: "image.ref",
        message: `image.ref must be a marketplace URN publisher:offer:sku:version, got ${JSON.stringify(spec.image?.ref ?? null)}.`,
        fix: 'E.g. "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest" (az vm image list).',
      });
    }
    if (spec.os.family === "linux" && !spec.ssh_authorized_keys?.length) {
      out.push({
        code: "AZURE_SSH_KEY_REQUIRED",
        severity: "error",
        field: "ssh_authorized_keys",
        message: "Linux VMs on Azure are created with SSH key login only; no key is given.",
        fix: "Add ssh_authorized_keys.",
      });
    }
    return out;
  }

  plan(spec: ResolvedSpec): DeploymentPlan {
    const o = this.reader(spec);
    const rg = o.string("resource_group") ?? "<resource group>";
    const vm = this.vmBody(spec, "<nic id>", "<from $AZURE_ADMIN_PASSWORD>");
    const [publisher, offer, sku, version] = urnParts(spec);
    return {
      platform: "azure",
      name: spec.name,
      network: spec.resolvedNetwork,
      calls: [
        ...(version === "latest"
          ? [
              {
                kind: "sdk" as const,
                action: "virtualMachineImages.list",
                target: `${o.string("location") ?? "<location>"}/${publisher}/${offer}/${sku}?$top=1&$orderby=name desc`,
                why: "Resolve version latest to the newest image version.",
              },
            ]
          : []),
        {
          kind: "sdk",
          action: "virtualMachineImages.get",
          target: `${o.string("location") ?? "<location>"}/${publisher}/${offer}/${sku}/${version === "latest" ? "<newest version>" : version}`,
          why: "Read the image's purchase plan: a marketplace image with a plan is only deployable with plan {name, publisher, product} in the VM and its terms accepted.",
        },
        {
          kind: "sdk",
          action: "virtualMachines.get",
          target: `${rg}/${spec.name}`,
          why: "A VM or NIC of these names that this apply did not make is refused, never taken over (beginCreateOrUpdate would update it).",
        },
        {
          kind: "sdk",
          action: "networkInterfaces.get",
          target: `${rg}/${spec.name}-nic`,
          why: "Likewise for the NIC.",
        },
        {
          kind: "sdk",
          action: "networkInterfaces.beginCreateOrUpdate",
          target: `${rg}/${spec.name}-nic`,
          why: "Create the NIC in the subnet (Dynamic = DHCP, Static only when asked); it and the VM are tagged labgate-intent with a claim recorded before the call, so an interrupted apply finds them.",
          params: this.nicBody(spec) as Record<string, unknown>,
        },
        {
          kind: "sdk",
          action: "virtualMachines.beginCreateOrUpdate",
          target: `${rg}/${spec.name}`,
          why: "Create the VM from the marketplace image; poll the Azure-AsyncOperation until Succeeded.",
          params: { ...vm, osProfile: { ...vm.osProfile, customData: "<base64 cloud-config>" } } as Record<
            string,
            unknown
          >,
        },
        {
          kind: "sdk",
          action: "virtualMachines.get",
          target: `${rg}/${spec.name}?$expand=instanceView`,
          why: "Poll until PowerState/running.",
        },
      ],
    };
  }

  async create(spec: ResolvedSpec, call: CallOptions = {}): Promise<NodeRef> {
    const o = this.reader(spec);
    const rg = o.requireString("resource_group");
    const { compute, network } = await this.sdk(spec);
    // Before the NIC: an image that does not exist, or whose plan cannot be read, leaves nothing behind.
    const plan = await this.purchasePlan(spec, compute, call);
    let password = "";
    if (spec.os.family === "windows") {
      [password] = requireEnv(
        "Azure",
        ["AZURE_ADMIN_PASSWORD"],
        this.env,
        "Windows administrator password",
      ) as [string];
      registerSecret(password);
    }
    const lro = {
      updateIntervalInMs: this.options.pollIntervalMs ?? 5000,
      ...(call.signal ? { abortSignal: call.signal } : {}),
    };
    const nicName = `${spec.name}-nic`;
    const ref: NodeRef = {
      platform: "azure",
      id: spec.name,
      name: spec.name,
      location: { resourceGroup: rg, nic: nicName },
    };
    // What is there before this run is never removed by its rollback.
    const hadVm = await this.exists(() => compute.virtualMachines.get(rg, spec.name), "read the VM", call);
    const hadNic = await this.exists(() => network.networkInterfaces.get(rg, nicName), "read the NIC", call);
    // ARM names are the ids: beginCreateOrUpdate on a VM or NIC this apply did not make would take it over.
    if (hadVm || hadNic)
      throw nameTakenError("azure", spec.name, [
        ...(hadVm ? [ref] : []),
        ...(hadNic ? [{ ...ref, id: nicName }] : []),
      ]);
    const claim = newClaim();
    ref.location = { ...ref.location, [INTENT_KEY]: claim };
    // The NIC and the VM carry the claim; it is on disk before either is asked for.
    await call.beforeMutation?.(ref);
    call.onCall?.(`networkInterfaces.beginCreateOrUpdate ${rg}/${nicName}`);
    const nic = await this.sdkCall(
      () => network.networkInterfaces.beginCreateOrUpdateAndWait(rg, nicName, this.nicBody(spec, claim), lro),
      "create the NIC",
    );
    let nicId: string;
    try {
      const nicWhat = `networkInterfaces.beginCreateOrUpdate ${rg}/${nicName} (create the NIC)`;
      nicId = checkField("azure", nicWhat, "the answer", nic, shapes.record("a NetworkInterface object"))
        .id as string;
      nicId = checkField("azure", nicWhat, "id", nicId, NIC_ID);
    } catch (error) {
      // The NIC may exist although its answer was unusable: remove it by name if this run made it.
      if (!hadNic)
        await network.networkInterfaces.beginDeleteAndWait(rg, nicName, this.lro({})).catch(() => undefined);
      throw error;
    }
    call.onCall?.(`virtualMachines.beginCreateOrUpdate ${rg}/${spec.name}`);
    try {
      await this.sdkCall(
        () =>
          compute.virtualMachines.beginCreateOrUpdateAndWait(
            rg,
            spec.name,
            this.vmBody(spec, nicId, password, plan, claim),
            lro,
          ),
        "create the VM",
        false,
        termsHint(spec, plan),
      );
    } catch (error) {
      // A VM left in ProvisioningState Failed and its NIC are worse than none: remove what this run made.
      // Not bound to the caller's signal: an interrupted create still cleans up after itself.
      const cleanup = this.lro({});
      if (!hadVm)
        await compute.virtualMachines.beginDeleteAndWait(rg, spec.name, cleanup).catch(() => undefined);
      if (!hadNic)
        await network.networkInterfaces.beginDeleteAndWait(rg, nicName, cleanup).catch(() => undefined);
      throw error;
    }
    return ref;
  }

  /**
   * The VM of this name in the resource group (virtualMachines.get) and its NIC ({name}-nic): one ref
   * for both, or for the NIC alone when a create stopped between the two. Its claim is the VM's
   * labgate-intent tag (the NIC's when there is no VM).
   */
  async findByName(name: string, call: CallOptions = {}): Promise<NodeRef[]> {
    const rg = this.reader(undefined).requireString("resource_group");
    const { compute, network } = await this.sdk();
    const nicName = `${name}-nic`;
    call.onCall?.(`virtualMachines.get ${rg}/${name}`);
    const vm = await this.sdkCall(() => compute.virtualMachines.get(rg, name), "read the VM", true);
    call.onCall?.(`networkInterfaces.get ${rg}/${nicName}`);
    const nic = await this.sdkCall(() => network.networkInterfaces.get(rg, nicName), "read the NIC", true);
    if (!vm && !nic) return [];
    const tags = (vm ?? nic)?.tags;
    const claim = tags && typeof tags[INTENT_TAG] === "string" ? tags[INTENT_TAG] : undefined;
    return [
      {
        platform: "azure",
        id: name,
        name,
        location: {
          resourceGroup: rg,
          ...(nic ? { nic: nicName } : {}),
          ...(claim ? { [INTENT_KEY]: claim } : {}),
        },
      },
    ];
  }

  /**
   * What the interrupted apply made (VM and NIC, or the NIC alone): only when it carries the recorded
   * claim. A VM or NIC of the name without it is someone else's: create refuses it, destroy leaves it.
   */
  async findLeftovers(intent: NodeRef, call: CallOptions = {}): Promise<NodeRef[]> {
    const claim = claimOf(intent);
    if (!claim) return [];
    return (await this.findByName(intent.name, call)).filter((r) => claimOf(r) === claim);
  }

  private async exists(read: () => Promise<unknown>, what: string, call: CallOptions): Promise<boolean> {
    call.onCall?.(what);
    return (await this.sdkCall(read, what, true)) !== undefined;
  }

  async get(ref: NodeRef, call: CallOptions = {}): Promise<NodeInfo | undefined> {
    const rg = this.rgOf(ref);
    const { compute, network } = await this.sdk();
    call.onCall?.(`virtualMachines.get ${rg}/${ref.id}`);
    let vm: VirtualMachine;
    // The SDK turns a body it cannot parse into {}: the raw answer tells a proxy's page from an empty VM.
    let raw:
      | { status: number; headers: Record<string, string | undefined>; text: string; parsed: unknown }
      | undefined;
    try {
      vm = await compute.virtualMachines.get(rg, ref.id, {
        expand: "instanceView",
        onResponse: (r) => {
          raw = {
            status: r.status,
            headers: { "content-type": r.headers.get("content-type") },
            text: r.bodyAsText ?? "",
            parsed: r.parsedBody,
          };
        },
        ...(call.signal ? { abortSignal: call.signal } : {}),
      });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw azureError(error, "read the VM");
    }
    const readWhat = `virtualMachines.get ${rg}/${ref.id} (read the VM)`;
    if (raw && !isRecord(raw.parsed))
      throw invalidResponse(
        "azure",
        readWhat,
        raw.text.trim() === ""
          ? "an empty body"
          : `a non-JSON body (${raw.headers["content-type"] ?? "no content type"})`,
        raw,
        "https://management.azure.com",
      );
    const statuses = checkField("azure", readWhat, "the answer", vm, VM_VIEW).statuses;
    const power = statuses.find((s) => s.code.startsWith("PowerState/"))?.code.slice("PowerState/".length);
    if (power !== undefined) checkField("azure", readWhat, "PowerState", power, POWER_STATE);
    const provisioningStatus = statuses.find((s) => s.code.startsWith("ProvisioningState/"));
    const provisioning = provisioningStatus?.code.slice("ProvisioningState/".length) ?? vm.provisioningState;
    // A failed provisioning reads ProvisioningState/failed/<Code> (OSProvisioningTimedOut, AllocationFailed ...):
    // it never turns into running by waiting, so it is an error with Azure's code and message.
    if (/^failed\b/i.test(provisioning ?? "")) {
      const message = provisioningStatus?.message ? `: ${redact(provisioningStatus.message)}` : "";
      return {
        ref,
        state: "error",
        rawState: `ProvisioningState/${provisioning}${message}`,
        addresses: [],
      };
    }
    const addresses: string[] = [];
    const nicName = ref.location?.nic;
    if (nicName) {
      const nic = await network.networkInterfaces.get(rg, nicName).catch(() => undefined);
      const nicWhat = `networkInterfaces.get ${rg}/${nicName} (read the NIC's addresses)`;
      const configs =
        nic === undefined ? [] : checkField("azure", nicWhat, "the answer", nic, NIC_VIEW).ipConfigurations;
      for (const c of configs) {
        const ip = checkField(
          "azure",
          nicWhat,
          "privateIPAddress",
          c.privateIPAddress,
          shapes.optional(shapes.ipv4),
        );
        if (ip) addresses.push(ip);
      }
    }
    return {
      ref,
      state: azureState(power, provisioning),
      rawState: power ? `PowerState/${power}` : `ProvisioningState/${provisioning ?? "unknown"}`,
      addresses,
    };
  }

  async start(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    await call.beforeMutation?.(ref);
    call.onCall?.(`virtualMachines.beginStart ${ref.id}`);
    await this.sdkCall(
      async () =>
        (await this.sdk()).compute.virtualMachines.beginStartAndWait(this.rgOf(ref), ref.id, this.lro(call)),
      "start the VM",
    );
  }

  async stop(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    // Deallocate, not power off: a powered-off Azure VM is still billed.
    await call.beforeMutation?.(ref);
    call.onCall?.(`virtualMachines.beginDeallocate ${ref.id}`);
    await this.sdkCall(
      async () =>
        (await this.sdk()).compute.virtualMachines.beginDeallocateAndWait(
          this.rgOf(ref),
          ref.id,
          this.lro(call),
        ),
      "deallocate the VM",
    );
  }

  async destroy(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    const rg = this.rgOf(ref);
    const { compute, network } = await this.sdk();
    call.onCall?.(`virtualMachines.beginDelete ${ref.id}`);
    await this.sdkCall(
      () => compute.virtualMachines.beginDeleteAndWait(rg, ref.id, this.lro(call)),
      "delete the VM",
      true,
    );
    if (ref.location?.nic) {
      call.onCall?.(`networkInterfaces.beginDelete ${ref.location.nic}`);
      await this.sdkCall(
        () => network.networkInterfaces.beginDeleteAndWait(rg, ref.location?.nic as string, this.lro(call)),
        "delete the NIC",
        true,
      );
    }
  }

  waitUntilRunning(ref: NodeRef, options: WaitOptions = {}): Promise<NodeInfo> {
    return waitForRunning(() => this.get(ref, options.signal ? { signal: options.signal } : {}), ref, {
      intervalMs: this.options.pollIntervalMs ?? 5000,
      ...options,
    });
  }

  nicBody(spec: ResolvedSpec, claim?: string): NetworkInterface {
    const o = this.reader(spec);
    const n = spec.resolvedNetwork;
    return {
      location: o.string("location"),
      tags: { "labgate-deploy": spec.name, ...(claim ? { [INTENT_TAG]: claim } : {}) },
      ipConfigurations: [
        {
          name: "ipconfig1",
          subnet: { id: n.attach ?? o.string("subnet_id") },
          privateIPAllocationMethod: n.mode === "fixed" ? "Static" : "Dynamic",
          ...(n.mode === "fixed" ? { privateIPAddress: n.ip } : {}),
        },
      ],
    };
  }

  /** The VM request; `plan` is the image's purchase plan (marketplace images that carry one). */
  vmBody(spec: ResolvedSpec, nicId: string, password: string, plan?: Plan, claim?: string): VirtualMachine {
    const o = this.reader(spec);
    const [publisher, offer, sku, version] = urnParts(spec);
    const user = o.string("admin_username") ?? "labgate";
    const windows = spec.os.family === "windows";
    return {
      location: o.string("location") ?? "",
      tags: { "labgate-deploy": spec.name, ...(claim ? { [INTENT_TAG]: claim } : {}) },
      ...(plan ? { plan } : {}),
      hardwareProfile: { vmSize: o.string("vm_size") },
      storageProfile: {
        imageReference: { publisher, offer, sku, version },
        osDisk: {
          createOption: "FromImage",
          deleteOption: "Delete",
          ...(spec.disk_gb !== undefined ? { diskSizeGB: spec.disk_gb } : {}),
        },
      },
      osProfile: {
        computerName: spec.name.slice(0, windows ? 15 : 64),
        adminUsername: user,
        customData: Buffer.from(cloudInitUserData(spec)).toString("base64"),
        ...(windows
          ? { adminPassword: password }
          : {
              linuxConfiguration: {
                disablePasswordAuthentication: true,
                ssh: {
                  publicKeys: (spec.ssh_authorized_keys ?? []).map((keyData) => ({
                    path: `/home/${user}/.ssh/authorized_keys`,
                    keyData,
                  })),
                },
              },
            }),
      },
      networkProfile: { networkInterfaces: [{ id: nicId, primary: true, deleteOption: "Delete" }] },
    };
  }

  /**
   * The image's purchase plan from Virtual Machine Images - Get ("latest" resolved through List, newest
   * first), as `az vm image show` reads it; undefined for images without one (Canonical, Microsoft ...).
   */
  private async purchasePlan(
    spec: ResolvedSpec,
    compute: ComputeManagementClient,
    call: CallOptions,
  ): Promise<Plan | undefined> {
    const location = this.reader(spec).requireString("location");
    const [publisher, offer, sku, wanted] = urnParts(spec);
    const signal = call.signal ? { abortSignal: call.signal } : {};
    const missing = () =>
      new PlatformApiError(
        "azure",
        "PLATFORM_NOT_FOUND",
        `Azure has no image ${spec.image?.ref} in ${location}.`,
        {
          hint: `List what exists: az vm image list --location ${location} --publisher ${publisher} --offer ${offer} --sku ${sku} --all`,
        },
      );
    let version = wanted;
    if (wanted === "latest") {
      call.onCall?.(`virtualMachineImages.list ${location}/${publisher}/${offer}/${sku}`);
      const list = await this.sdkCall(
        () =>
          compute.virtualMachineImages.list(location, publisher, offer, sku, {
            top: 1,
            orderby: "name desc",
            ...signal,
          }),
        "list the image versions",
        true,
      );
      if (list === undefined) throw missing();
      const what = `virtualMachineImages.list ${location}/${publisher}/${offer}/${sku} (list the image versions)`;
      const versions = checkField(
        "azure",
        what,
        "the answer",
        list,
        shapes.arrayOf(shapes.record("an image version entry")),
      );
      if (versions.length === 0) throw missing();
      // The version goes into the next URL: digits and dots only, as Azure's image versions are.
      version = checkField("azure", what, "[0].name", versions[0]?.name, IMAGE_VERSION);
    }
    call.onCall?.(`virtualMachineImages.get ${location}/${publisher}/${offer}/${sku}/${version}`);
    const image = await this.sdkCall(
      () => compute.virtualMachineImages.get(location, publisher, offer, sku, version, signal),
      "read the image",
      true,
    );
    if (!image) throw missing();
    const plan = image.plan;
    if (!plan) return undefined;
    if (!plan.name || !plan.publisher || !plan.product)
      throw new PlatformApiError(
        "azure",
        "PLATFORM_RESPONSE_INVALID",
        `Azure returned an incomplete purchase plan for ${spec.image?.ref}: ${redact(JSON.stringify(plan))}.`,
        {
          hint: "Check that the endpoint is Azure Resource Manager (not a proxy) and retry; the plan needs name, publisher and product.",
        },
      );
    return { name: plan.name, publisher: plan.publisher, product: plan.product };
  }

  private lro(call: CallOptions) {
    return {
      updateIntervalInMs: this.options.pollIntervalMs ?? 5000,
      ...(call.signal ? { abortSignal: call.signal } : {}),
    };
  }

  private rgOf(ref: NodeRef): string {
    return ref.location?.resourceGroup ?? this.reader(undefined).requireString("resource_group");
  }

  private async sdk(
    spec?: DeploySpec,
  ): Promise<{ compute: ComputeManagementClient; network: NetworkManagementClient }> {
    if (this.clients) return this.clients;
    // The SDKs cost seconds of CPU to load: only a command that talks to Azure pays for it.
    const [{ ComputeManagementClient }, { NetworkManagementClient }] = await Promise.all([
      loadSdk<typeof import("@azure/arm-compute")>("azure", "@azure/arm-compute"),
      loadSdk<typeof import("@azure/arm-network")>("azure", "@azure/arm-network"),
    ]);
    const o = this.reader(spec);
    const subscription =
      o.string("subscription_id") ??
      (requireEnv("Azure", ["AZURE_SUBSCRIPTION_ID"], this.env, "subscription")[0] as string);
    const credential =
      this.options.credential ??
      new (
        await loadSdk<typeof import("@azure/identity")>("azure", "@azure/identity")
      ).DefaultAzureCredential();
    const endpoint = o.string("endpoint");
    const ca = o.caPem();
    const common = { ...(endpoint ? { endpoint } : {}), ...(ca ? { tlsOptions: { ca } } : {}) };
    this.clients = {
      compute: new ComputeManagementClient(credential, subscription, common),
      network: new NetworkManagementClient(credential, subscription, common),
    };
    return this.clients;
  }

  private reader(spec: DeploySpec | undefined): OptionReader {
    return new OptionReader("azure", spec ?? this.options.spec, this.options.overrides ?? {});
  }

  private async sdkCall<T>(
    run: () => Promise<T>,
    what: string,
    notFoundOk = false,
    hint?: (code: string | undefined) => string | undefined,
  ): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (notFoundOk && (error as { statusCode?: number }).statusCode === 404) return undefined as T;
      throw azureError(error, what, hint?.((error as { code?: string }).code));
    }
  }
}

/** A marketplace image version ("22.04.202401010"). */
const IMAGE_VERSION = shapes.stringMatching("an image version (digits and dots)", /^\d+(\.\d+){0,3}$/);

/** An ARM NIC resource id: the VM body references it, so it must be one. */
const NIC_ID = shapes.stringMatching(
  "a NIC resource id (/subscriptions/.../providers/Microsoft.Network/networkInterfaces/NAME)",
  /^\/subscriptions\/[^/\s]+\/resourceGroups\/[^/\s]+\/providers\/Microsoft\.Network\/networkInterfaces\/[^/\s]+$/i,
);

/** VirtualMachine with instanceView (InstanceViewStatus: code "PowerState/running", "ProvisioningState/succeeded" ...). */
const VM_VIEW = {
  expects: "a VirtualMachine object (instanceView.statuses: [{code: string}])",
  check: (v: unknown) => {
    if (!isRecord(v)) return undefined;
    // Asked for with $expand=instanceView: a VM without one is not what ARM returns.
    const view = v.instanceView;
    const statuses = isRecord(view) ? view.statuses : undefined;
    if (!Array.isArray(statuses) || !statuses.every((s) => isRecord(s) && typeof s.code === "string"))
      return undefined;
    return { statuses: statuses as { code: string; message?: string }[] };
  },
} satisfies Shape<{ statuses: { code: string; message?: string }[] }>;

/** PowerState codes of the Compute API (PowerState/...). */
const POWER_STATE = shapes.oneOfNames(
  "a power state (running, starting, stopping, stopped, deallocating, deallocated, unknown)",
  ["running", "starting", "stopping", "stopped", "deallocating", "deallocated", "unknown"],
);

const NIC_VIEW = {
  expects: "a NetworkInterface object (ipConfigurations: a list)",
  check: (v: unknown) => {
    if (!isRecord(v)) return undefined;
    const configs = v.ipConfigurations ?? [];
    return Array.isArray(configs) && configs.every(isRecord)
      ? { ipConfigurations: configs as { privateIPAddress?: unknown }[] }
      : undefined;
  },
} satisfies Shape<{ ipConfigurations: { privateIPAddress?: unknown }[] }>;

function urnParts(spec: DeploySpec): [publisher: string, offer: string, sku: string, version: string] {
  const [publisher = "", offer = "", sku = "", version = ""] = (spec.image?.ref ?? ":::").split(":");
  return [publisher, offer, sku, version];
}

/** Marketplace terms are accepted once per subscription and plan; ARM refuses the purchase until then. */
function termsHint(spec: DeploySpec, plan: Plan | undefined) {
  return (code: string | undefined): string | undefined =>
    plan && /ResourcePurchaseValidationFailed|MarketplacePurchaseEligibilityFailed/.test(code ?? "")
      ? `Accept the image's terms once for this subscription: az vm image terms accept --urn ${spec.image?.ref} (plan ${plan.name} of ${plan.publisher}/${plan.product}).`
      : undefined;
}

function azureState(power: string | undefined, provisioning: string | undefined): NodeState {
  if (provisioning === "failed" || provisioning === "Failed") return "error";
  switch (power) {
    case "running":
      return "running";
    case "starting":
      return "pending";
    case "stopping":
    case "deallocating":
      return "stopping";
    case "stopped":
    case "deallocated":
      return "stopped";
    default:
      return provisioning === "Creating" || provisioning === "creating"
        ? "pending"
        : provisioning === "Deleting"
          ? "stopping"
          : "unknown";
  }
}

function azureError(error: unknown, what: string, hint?: string): PlatformApiError {
  const e = error as { statusCode?: number; code?: string; message?: string };
  const auth =
    e.statusCode === 401 ||
    e.statusCode === 403 ||
    /AuthenticationFailed|AuthorizationFailed|CredentialUnavailable/.test(
      `${e.code} ${(error as Error).name}`,
    );
  return new PlatformApiError(
    "azure",
    auth ? "PLATFORM_AUTH_FAILED" : e.statusCode === 404 ? "PLATFORM_NOT_FOUND" : "PLATFORM_API_ERROR",
    `Azure: ${what} failed${e.statusCode ? ` (${e.statusCode})` : ""}: ${e.code ? `${e.code}: ` : ""}${redact(e.message ?? String(error))}`,
    {
      cause: error,
      ...(e.statusCode ? { status: e.statusCode } : {}),
      hint:
        hint ??
        (auth
          ? "Sign in (az login) or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET; the identity needs Virtual Machine Contributor and Network Contributor on the resource group."
          : "Fix what Azure names above; `labgate deploy plan` shows the request bodies."),
    },
  );
}
