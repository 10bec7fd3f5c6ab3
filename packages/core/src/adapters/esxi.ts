import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Finding } from "../deploy-rules/findings.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { PlatformApiError } from "../errors.js";
import { registerSecret } from "../util/redact.js";
import { claimOf, nameTakenError, newClaim } from "./claims.js";
import { cloudInitMetadata, cloudInitUserData, guestinfoKeys, seedNetworkConfig } from "./cloud-init.js";
import { type CommandRunner, defaultCommandRunner, quoteForDisplay as shellQuote } from "./command-runner.js";
import { moveSystemDiskToSata, sataMovePlan } from "./esxi-windows-disk.js";
import { HttpJsonClient, type HttpResponse } from "./http-json.js";
import { missingOption, OptionReader, requireEnv } from "./options.js";
import { checkJsonBody, isRecord, type Shape, shapes } from "./response-shape.js";
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
import { INTENT_KEY } from "./types.js";
import { DEFAULT_VIM_RELEASE, needsVcenter, VimJsonClient } from "./vsphere-vim.js";
import { waitForRunning } from "./wait.js";

/** The extraConfig key carrying the apply's claim (not guestinfo.*: the guest has no business reading it). */
const INTENT_OPTION = "labgate.intent";

export interface EsxiAdapterOptions {
  /**
   * platform_options.esxi: url, datastore (name), datastore_id, folder, resource_pool, host, network, ssh_host,
   * ssh_key, insecure_tls, ca_file; guest_config ("guestinfo", the default, or "customization" for vCenter
   * before 8.0U1) and vim_release (VI/JSON release, default 8.0.1.0).
   */
  spec?: DeploySpec;
  overrides?: Record<string, unknown>;
  /** VSPHERE_USER / VSPHERE_PASSWORD (or govc's GOVC_USERNAME / GOVC_PASSWORD), VSPHERE_URL / GOVC_URL. */
  env?: NodeJS.ProcessEnv;
  runner?: CommandRunner;
  pollIntervalMs?: number;
  /** How long a vSphere task (ReconfigVM_Task) may take. */
  taskTimeoutMs?: number;
}

/** Formats ESXi boots only after conversion to a VMDK; a VMDK is copied to a thin disk with vmkfstools. */
const CONVERTIBLE = ["qcow2", "ova", "raw", "img", "vmdk"] as const;

/**
 * ESXi through vCenter's vSphere Automation REST API (/api/session, /api/vcenter/vm). Templates are
 * cloned, and cloud-init gets its metadata (hostname, static network) and user-data as guestinfo keys set
 * over the VI/JSON API (what `govc vm.change -e guestinfo.metadata=...` does over SOAP); cloud images are
 * converted to VMDK locally, copied to the host, imported with vmkfstools and booted with a NoCloud seed ISO.
 */
export class EsxiAdapter implements PlatformAdapter {
  readonly name = "esxi" as const;
  readonly capabilities: PlatformCapabilities = {
    dhcpAvailable: false,
    windowsDiskBus: "sata",
    imageFormats: [],
    convertibleFormats: CONVERTIBLE,
    cloneFromTemplate: true,
    guestConfig: "guestinfo",
  };
  private readonly env: NodeJS.ProcessEnv;
  private session: string | undefined;
  private vimClient: VimJsonClient | undefined;

  constructor(private readonly options: EsxiAdapterOptions = {}) {
    this.env = options.env ?? process.env;
  }

  validate(spec: DeploySpec): Finding[] {
    const o = this.reader(spec);
    const out: Finding[] = [];
    if (!o.string("url") && !this.env.VSPHERE_URL && !this.env.GOVC_URL)
      out.push(missingOption("esxi", "url", '"https://vcenter.lab"', "VSPHERE_URL"));
    if (spec.template_id === undefined) {
      for (const key of ["datastore", "datastore_id", "resource_pool", "folder", "ssh_host", "ssh_key"]) {
        if (!o.string(key))
          out.push(missingOption("esxi", key, key === "datastore" ? '"datastore1"' : '"..."'));
      }
    }
    out.push({
      code: "ESXI_NEEDS_VCENTER",
      severity: "info",
      field: "platform_options.esxi.url",
      message: `The esxi platform talks to vCenter Server (vSphere Automation REST API /api/vcenter, 7.0 Update 2 or later; VI/JSON for guestinfo, 8.0 Update 1 or later); a standalone ESXi host serves neither.`,
      fix: "Point platform_options.esxi.url (or VSPHERE_URL) at the vCenter that manages the host, not at the host itself.",
    });
    const network = o.string("network");
    if (network !== undefined && networkBacking(network) === undefined) {
      out.push({
        code: "ESXI_NETWORK_ID",
        severity: "error",
        field: "platform_options.esxi.network",
        message: `vSphere network ids look like "network-13" (standard port group), "dvportgroup-21" (distributed port group) or "network-o25" (opaque network); got "${network}".`,
        fix: "Use the id from GET /api/vcenter/network (govc ls -i network).",
      });
    }
    const guestConfig = o.string("guest_config");
    if (guestConfig !== undefined && guestConfig !== "guestinfo" && guestConfig !== "customization") {
      out.push({
        code: "ESXI_GUEST_CONFIG_INVALID",
        severity: "error",
        field: "platform_options.esxi.guest_config",
        message: `guest_config must be "guestinfo" or "customization", got "${guestConfig}".`,
        fix: 'Use "guestinfo" (vCenter 8.0U1+, the default) or "customization" (older vCenter, needs open-vm-tools).',
      });
    }
    if (spec.template_id !== undefined && spec.disk_gb !== undefined && guestConfig === "customization") {
      out.push({
        code: "ESXI_CLONE_DISK_SIZE",
        severity: "warning",
        field: "disk_gb",
        message: `Without the VI/JSON API (guest_config "customization") a clone keeps the template's disk size; disk_gb ${spec.disk_gb} is not applied.`,
        fix: `Grow it after deployment: govc vm.disk.change -vm ${spec.name} -size ${spec.disk_gb}G (then grow the partition in the guest).`,
      });
    }
    if (spec.template_id !== undefined && !/^vm-\d+$/.test(spec.template_id)) {
      out.push({
        code: "ESXI_TEMPLATE_ID",
        severity: "warning",
        field: "template_id",
        message: `vSphere VM ids look like "vm-42"; "${spec.template_id}" will be looked up by name.`,
        fix: "Use the id from GET /api/vcenter/vm?names=<template> (govc ls -i).",
      });
    }
    return out;
  }

  plan(spec: ResolvedSpec): DeploymentPlan {
    const calls: PlannedCall[] = [];
    calls.push({
      kind: "http",
      action: "POST",
      target: "/api/session",
      why: "Log in (HTTP Basic) and get a vmware-api-session-id.",
    });
    calls.push({
      kind: "http",
      action: "GET",
      target: `/api/vcenter/vm?names=${spec.name}`,
      why: "A VM of this name that this apply did not make is refused, never adopted or replaced.",
    });
    if (spec.template_id !== undefined) {
      calls.push({
        kind: "http",
        action: "POST",
        target: "/api/vcenter/vm?action=clone",
        why: `Clone template ${spec.template_id}${this.usesGuestinfo(spec) ? `, then set extraConfig ${INTENT_OPTION} to a claim recorded before the clone (ReconfigVM_Task), so an interrupted apply finds its VM` : ""}.`,
        params: this.cloneBody(spec),
      });
      calls.push({
        kind: "http",
        action: "PATCH",
        target: "/api/vcenter/vm/{vm}/hardware/cpu",
        why: "Set the CPU count.",
        params: { count: spec.cores },
      });
      calls.push({
        kind: "http",
        action: "PATCH",
        target: "/api/vcenter/vm/{vm}/hardware/memory",
        why: "Set the memory.",
        params: { size_MiB: spec.memory_mib },
      });
      const nicBacking = this.cloneNicBacking(spec);
      if (nicBacking) {
        calls.push({
          kind: "http",
          action: "PATCH",
          target: "/api/vcenter/vm/{vm}/hardware/ethernet/{first nic}",
          why: `Put the clone's first NIC on ${nicBacking.network} (${nicBacking.type} backing, after GET /api/vcenter/vm/{vm}/hardware/ethernet).`,
          params: { backing: nicBacking },
        });
      }
      if (this.usesGuestinfo(spec)) {
        const vim = `/sdk/vim25/${this.reader(spec).string("vim_release") ?? DEFAULT_VIM_RELEASE}`;
        calls.push({
          kind: "http",
          action: "POST",
          target: `${vim}/SessionManager/SessionManager/Login`,
          why: "Log in to the VI/JSON API (the Automation REST API cannot set extraConfig).",
        });
        calls.push({
          kind: "http",
          action: "POST",
          target: `${vim}/VirtualMachine/{vm}/ReconfigVM_Task`,
          why:
            "Put cloud-init's metadata (hostname, static network) and user-data into guestinfo keys, base64, where its VMware datasource reads them; " +
            `govc equivalent: govc vm.change -vm ${shellQuote(spec.name)} -e guestinfo.metadata=<base64> -e guestinfo.metadata.encoding=base64 -e guestinfo.userdata=<base64> -e guestinfo.userdata.encoding=base64. Then poll GET ${vim}/Task/{task}/info until success.`,
          params: {
            "guestinfo.metadata (decoded)": cloudInitMetadata(spec),
            "guestinfo.userdata (decoded)": cloudInitUserData(spec),
            "guestinfo.metadata.encoding": "base64",
            "guestinfo.userdata.encoding": "base64",
          },
        });
        if (spec.disk_gb !== undefined) {
          calls.push({
            kind: "http",
            action: "POST",
            target: `${vim}/VirtualMachine/{vm}/ReconfigVM_Task`,
            why: `Grow the system disk to ${spec.disk_gb} GB if the template's is smaller (never shrunk), after reading GET ${vim}/VirtualMachine/{vm}/config; govc equivalent: govc vm.disk.change -vm ${shellQuote(spec.name)} -size ${spec.disk_gb}G.`,
            params: {
              deviceChange: [{ operation: "edit", device: { capacityInKB: spec.disk_gb * 1024 * 1024 } }],
            },
          });
        }
      } else {
        calls.push({
          kind: "http",
          action: "PUT",
          target: "/api/vcenter/vm/{vm}/guest/customization",
          why: "Hand cloud-init its metadata (hostname, static network) and user-data through guest customization.",
          params: this.customizationBody(spec),
        });
      }
      if (this.windowsNeedsSata(spec)) calls.push(...sataMovePlan());
    } else {
      for (const step of this.importCommands(spec, "<workdir>")) calls.push(step.call);
      calls.push({
        kind: "http",
        action: "POST",
        target: "/api/vcenter/vm",
        why: "Create the VM around the imported disk and the seed ISO.",
        params: this.createBody(spec),
      });
    }
    calls.push({
      kind: "http",
      action: "POST",
      target: "/api/vcenter/vm/{vm}/power?action=start",
      why: "Power on.",
    });
    calls.push({
      kind: "http",
      action: "GET",
      target: "/api/vcenter/vm/{vm}",
      why: "Poll until power_state is POWERED_ON.",
    });
    return { platform: "esxi", name: spec.name, network: spec.resolvedNetwork, calls };
  }

  async create(spec: ResolvedSpec, call: CallOptions = {}): Promise<NodeRef> {
    let vm: string;
    let configure: (id: string) => Promise<void> = async () => undefined;
    // vSphere names the VM (vm-N) only in its answer: the claim is on disk before the call, and the name is
    // free in the folder right before it, so a VM of this name without a claim after a kill is this apply's.
    const taken = await this.findByName(spec.name, call);
    if (taken.length > 0) throw nameTakenError("esxi", spec.name, taken);
    const claim = newClaim();
    const intent: NodeRef = { platform: "esxi", id: "", name: spec.name, location: { [INTENT_KEY]: claim } };
    if (spec.template_id !== undefined) {
      const source = /^vm-\d+$/.test(spec.template_id)
        ? spec.template_id
        : await this.findVm(spec.template_id, call);
      if (!source)
        throw new PlatformApiError(
          "esxi",
          "PLATFORM_NOT_FOUND",
          `No vSphere VM or template named ${spec.template_id}.`,
          { hint: "Check template_id (govc ls -i)." },
        );
      await call.beforeMutation?.(intent);
      vm = await this.json(
        "POST",
        "/api/vcenter/vm?action=clone",
        { ...this.cloneBody(spec), source },
        call,
        "clone the template",
        VM_ID,
      );
      configure = async (id) => {
        await this.json(
          "PATCH",
          `/api/vcenter/vm/${id}/hardware/cpu`,
          { count: spec.cores },
          call,
          "set the CPU count",
        );
        await this.json(
          "PATCH",
          `/api/vcenter/vm/${id}/hardware/memory`,
          { size_MiB: spec.memory_mib },
          call,
          "set the memory",
        );
        const nicBacking = this.cloneNicBacking(spec);
        if (nicBacking) {
          const nics = await this.json(
            "GET",
            `/api/vcenter/vm/${id}/hardware/ethernet`,
            undefined,
            call,
            "list the clone's NICs",
            NIC_LIST,
          );
          const first = nics[0]?.nic;
          if (!first)
            throw new PlatformApiError(
              "esxi",
              "PLATFORM_NOT_FOUND",
              `The clone ${id} has no network adapter.`,
              {
                hint: "Give the template a NIC (VMXNET3) before cloning it.",
              },
            );
          await this.json(
            "PATCH",
            `/api/vcenter/vm/${id}/hardware/ethernet/${encodeURIComponent(first)}`,
            { backing: nicBacking },
            call,
            `attach the NIC to ${nicBacking.network}`,
          );
        }
        const wait = {
          intervalMs: this.options.pollIntervalMs ?? 1000,
          ...(this.options.taskTimeoutMs ? { timeoutMs: this.options.taskTimeoutMs } : {}),
          ...(call.signal ? { signal: call.signal } : {}),
        };
        if (this.usesGuestinfo(spec)) {
          call.onCall?.(`ReconfigVM_Task ${id}: guestinfo.metadata, guestinfo.userdata`);
          await this.vim(call).setExtraConfig(id, guestinfoKeys(spec), wait);
          if (spec.disk_gb !== undefined) {
            call.onCall?.(`ReconfigVM_Task ${id}: grow the disk to ${spec.disk_gb} GB`);
            const grown = await this.vim(call).growBootDisk(id, spec.disk_gb, wait);
            if (grown === "kept")
              call.onCall?.(`disk already ${spec.disk_gb} GB or larger: kept (never shrunk)`);
          }
        } else {
          await this.json(
            "PUT",
            `/api/vcenter/vm/${id}/guest/customization`,
            this.customizationBody(spec),
            call,
            "set the cloud-init customization",
          );
        }
        if (this.windowsNeedsSata(spec)) {
          const moved = await moveSystemDiskToSata(
            <T>(method: string, path: string, body: unknown, what: string, shape?: Shape<T>) =>
              this.json<T>(method, path, body, call, what, shape),
            id,
          );
          call.onCall?.(moved === "moved" ? "system disk moved to SATA" : "system disk already on SATA");
        }
      };
    } else {
      const runner = this.options.runner ?? defaultCommandRunner(this.sshOptions(spec));
      const work = await mkdtemp(join(tmpdir(), "labgate-esxi-"));
      try {
        await this.writeSeedFiles(spec, work);
        for (const step of this.importCommands(spec, work)) {
          call.onCall?.(step.call.target);
          if (step.put) await runner.put(step.put[0], step.put[1]);
          else await runner.run(step.call.where ?? "local", await step.argv(), call.signal);
        }
      } finally {
        await rm(work, { recursive: true, force: true });
        if (!this.options.runner) await runner.close();
      }
      await call.beforeMutation?.(intent);
      vm = await this.json("POST", "/api/vcenter/vm", this.createBody(spec), call, "create the VM", VM_ID);
    }
    const ref: NodeRef = { ...intent, id: vm };
    try {
      await call.beforeMutation?.(ref);
      if (this.usesGuestinfo(spec)) {
        call.onCall?.(`ReconfigVM_Task ${vm}: ${INTENT_OPTION}`);
        await this.vim(call).setExtraConfig(vm, { [INTENT_OPTION]: claim }, this.taskWait(call));
      }
      await configure(vm);
      await this.start(ref, call);
    } catch (error) {
      // Remove the half-made VM, then report the original failure.
      await this.destroy(ref).catch(() => undefined);
      throw error;
    }
    return ref;
  }

  async get(ref: NodeRef, call: CallOptions = {}): Promise<NodeInfo | undefined> {
    const res = await this.request("GET", `/api/vcenter/vm/${encodeURIComponent(ref.id)}`, undefined, call);
    if (res.status === 404) return undefined;
    const info = this.unwrap(res, `GET /api/vcenter/vm/${ref.id} (read VM ${ref.id})`, VM_INFO);
    const addresses: string[] = [];
    const identity = await this.request(
      "GET",
      `/api/vcenter/vm/${encodeURIComponent(ref.id)}/guest/identity`,
      undefined,
      call,
    );
    if (identity.status === 200) {
      const { ip_address: ip } = this.unwrap(
        identity,
        `GET /api/vcenter/vm/${ref.id}/guest/identity`,
        IDENTITY,
      );
      if (ip) addresses.push(ip);
    }
    return { ref, state: vsphereState(info.power_state), rawState: info.power_state, addresses };
  }

  async start(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    await this.power(ref, "start", call);
  }

  async stop(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    await this.power(ref, "stop", call);
  }

  async destroy(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    const info = await this.get(ref, call);
    if (!info) return;
    if (info.state !== "stopped") await this.power(ref, "stop", call);
    const res = await this.request(
      "DELETE",
      `/api/vcenter/vm/${encodeURIComponent(ref.id)}`,
      undefined,
      call,
    );
    if (res.status !== 404) this.unwrap(res, `delete VM ${ref.id}`);
  }

  waitUntilRunning(ref: NodeRef, options: WaitOptions = {}): Promise<NodeInfo> {
    return waitForRunning(() => this.get(ref, options.signal ? { signal: options.signal } : {}), ref, {
      intervalMs: this.options.pollIntervalMs ?? 2000,
      ...options,
    });
  }

  /** The conversion and import steps for a cloud image; `argv` is resolved at run time (an OVA's disk name is only known after tar). */
  importCommands(
    spec: ResolvedSpec,
    work: string,
  ): { call: PlannedCall; argv: () => Promise<string[]>; put?: [string, string] }[] {
    const o = this.reader(spec);
    const ds = o.string("datastore") ?? "<datastore>";
    const dir = `/vmfs/volumes/${ds}/${spec.name}`;
    const source = spec.image?.source ?? "<image>";
    const format = spec.image?.format ?? "qcow2";
    const steps: { call: PlannedCall; argv: () => Promise<string[]>; put?: [string, string] }[] = [];
    const cmd = (
      where: "local" | "host",
      why: string,
      argv: string[] | (() => Promise<string[]>),
      shown?: string[],
    ) => {
      const resolve = typeof argv === "function" ? argv : async () => argv;
      const text = (shown ?? (Array.isArray(argv) ? argv : [])).map(shellQuote).join(" ");
      steps.push({
        call: { kind: "command", action: (shown ?? (argv as string[]))[0] ?? "", target: text, why, where },
        argv: resolve,
      });
    };
    const converted = join(work, `${spec.name}-src.vmdk`);
    let input: string | (() => Promise<string>) = source;
    if (format === "ova") {
      cmd("local", "An OVA is a tar archive: unpack it to reach its disk.", [
        "tar",
        "-xf",
        source,
        "-C",
        work,
      ]);
      input = async () => {
        const disk = (await readdir(work)).find(
          (f) => f.endsWith(".vmdk") && !f.startsWith(`${spec.name}-src`),
        );
        if (!disk)
          throw new PlatformApiError("esxi", "ESXI_OVA_NO_DISK", `${source} contains no .vmdk disk.`, {
            hint: "Check that the OVA is a VM export.",
          });
        return join(work, disk);
      };
    }
    const fromFormat = format === "ova" || format === "vmdk" ? "vmdk" : format === "img" ? "qcow2" : format;
    // The command shown in the plan and the one run differ only in the input (an OVA's disk is known once unpacked).
    const toVmdk = (from: string) => [
      "qemu-img",
      "convert",
      "-f",
      fromFormat,
      "-O",
      "vmdk",
      "-o",
      "subformat=monolithicFlat",
      from,
      converted,
    ];
    cmd(
      "local",
      "Convert the image to a monolithicFlat VMDK (descriptor + -flat extent) that vmkfstools can import.",
      async () => toVmdk(typeof input === "string" ? input : await input()),
      toVmdk(format === "ova" ? `${work}/<disk from the OVA>.vmdk` : source),
    );
    cmd(
      "local",
      "Build the NoCloud seed ISO (volume id cidata) with meta-data, user-data and the static network-config.",
      [
        "genisoimage",
        "-output",
        join(work, "seed.iso"),
        "-volid",
        "cidata",
        "-joliet",
        "-rock",
        join(work, "user-data"),
        join(work, "meta-data"),
        join(work, "network-config"),
      ],
    );
    cmd("host", "Make the VM's directory on the datastore.", ["mkdir", "-p", dir]);
    for (const file of [converted, converted.replace(/\.vmdk$/, "-flat.vmdk"), join(work, "seed.iso")]) {
      steps.push({
        call: {
          kind: "command",
          action: "scp",
          where: "local",
          target: `scp ${shellQuote(file)} root@<esxi>:${shellQuote(`${dir}/${basename(file)}`)}`,
          why: "Copy to the datastore over SSH.",
        },
        argv: async () => [],
        put: [file, `${dir}/${basename(file)}`],
      });
    }
    cmd("host", "Import the disk as a thin VMDK that ESXi can boot (vmkfstools clones and converts).", [
      "vmkfstools",
      "-i",
      `${dir}/${spec.name}-src.vmdk`,
      "-d",
      "thin",
      `${dir}/${spec.name}.vmdk`,
    ]);
    if (spec.disk_gb !== undefined)
      cmd("host", `Grow the disk to ${spec.disk_gb} GB.`, [
        "vmkfstools",
        "-X",
        `${spec.disk_gb}G`,
        `${dir}/${spec.name}.vmdk`,
      ]);
    cmd("host", "Remove the uploaded source copy.", ["vmkfstools", "-U", `${dir}/${spec.name}-src.vmdk`]);
    return steps;
  }

  private async writeSeedFiles(spec: ResolvedSpec, work: string): Promise<void> {
    const meta = cloudInitMetadata(spec);
    delete meta.network;
    await writeFile(join(work, "meta-data"), `${JSON.stringify(meta, null, 2)}\n`);
    await writeFile(join(work, "user-data"), cloudInitUserData(spec));
    await writeFile(join(work, "network-config"), seedNetworkConfig(spec));
  }

  /** A clone keeps the template's NIC unless the spec names a network; then it gets that network's backing type. */
  private cloneNicBacking(spec: ResolvedSpec): { type: string; network: string } | undefined {
    const network = spec.resolvedNetwork.attach ?? this.reader(spec).string("network");
    if (!network) return undefined;
    return { type: networkBacking(network) ?? "STANDARD_PORTGROUP", network };
  }

  private placement(spec: DeploySpec): Record<string, string> {
    const o = this.reader(spec);
    const placement: Record<string, string> = {};
    for (const [key, field] of [
      ["folder", "folder"],
      ["resource_pool", "resource_pool"],
      ["host", "host"],
      ["datastore_id", "datastore"],
      ["cluster", "cluster"],
    ] as const) {
      const v = o.string(key);
      if (v) placement[field] = v;
    }
    return placement;
  }

  private cloneBody(spec: ResolvedSpec): Record<string, unknown> {
    return { name: spec.name, source: spec.template_id, placement: this.placement(spec), power_on: false };
  }

  private customizationBody(spec: ResolvedSpec): Record<string, unknown> {
    return {
      spec: {
        configuration_spec: {
          cloud_config: {
            type: "CLOUDINIT",
            cloudinit: {
              metadata: JSON.stringify(cloudInitMetadata(spec)),
              userdata: cloudInitUserData(spec),
            },
          },
        },
        global_DNS_settings:
          spec.resolvedNetwork.mode === "static" ? { dns_servers: spec.resolvedNetwork.dns } : {},
        interfaces: [],
      },
    };
  }

  private createBody(spec: ResolvedSpec): Record<string, unknown> {
    const o = this.reader(spec);
    const ds = o.string("datastore") ?? "<datastore>";
    const windows = spec.os.family === "windows";
    const bus = windows ? "SATA" : o.string("disk_bus")?.toUpperCase() === "SATA" ? "SATA" : "SCSI";
    const network = spec.resolvedNetwork.attach ?? o.string("network") ?? "<network id>";
    return {
      name: spec.name,
      guest_OS: windows ? "WINDOWS_9_SERVER_64" : "UBUNTU_64",
      placement: this.placement(spec),
      cpu: { count: spec.cores },
      memory: { size_MiB: spec.memory_mib },
      disks: [
        {
          type: bus,
          ...(bus === "SATA" ? { sata: { bus: 0, unit: 0 } } : { scsi: { bus: 0, unit: 0 } }),
          backing: { type: "VMDK_FILE", vmdk_file: `[${ds}] ${spec.name}/${spec.name}.vmdk` },
        },
      ],
      cdroms: [
        {
          type: "SATA",
          sata: { bus: 0, unit: 1 },
          backing: { type: "ISO_FILE", iso_file: `[${ds}] ${spec.name}/seed.iso` },
          start_connected: true,
        },
      ],
      nics: [
        {
          type: windows ? "E1000E" : "VMXNET3",
          backing: { type: networkBacking(network) ?? "STANDARD_PORTGROUP", network },
          start_connected: true,
        },
      ],
    };
  }

  private usesGuestinfo(spec: DeploySpec): boolean {
    return this.reader(spec).string("guest_config") !== "customization";
  }

  /** Windows clones go to SATA unless the template has the VMware paravirtual drivers (virtio_drivers). */
  private windowsNeedsSata(spec: DeploySpec): boolean {
    return spec.os.family === "windows" && this.reader(spec).bool("virtio_drivers") !== true;
  }

  private vim(call: CallOptions): VimJsonClient {
    this.vimClient ??= new VimJsonClient(
      this.client(call),
      () => this.credentials(),
      this.reader(undefined).string("vim_release") ?? DEFAULT_VIM_RELEASE,
    );
    return this.vimClient;
  }

  private credentials(): [string, string] {
    const [user, password] = (
      this.env.VSPHERE_USER
        ? requireEnv("vSphere", ["VSPHERE_USER", "VSPHERE_PASSWORD"], this.env, "login")
        : requireEnv("vSphere", ["GOVC_USERNAME", "GOVC_PASSWORD"], this.env, "login")
    ) as [string, string];
    registerSecret(password);
    return [user, password];
  }

  private sshOptions(spec: DeploySpec) {
    const o = this.reader(spec);
    return {
      host: o.string("ssh_host"),
      username: o.string("ssh_user") ?? "root",
      privateKeyPath: o.string("ssh_key"),
      knownHostsPath: o.string("known_hosts"),
    };
  }

  private reader(spec: DeploySpec | undefined): OptionReader {
    return new OptionReader("esxi", spec ?? this.options.spec, this.options.overrides ?? {});
  }

  /**
   * VMs of this name (GET /api/vcenter/vm?names=..., in the spec's folder when it names one: vSphere keeps
   * names unique per folder), templates left out, each with its claim (extraConfig labgate.intent over
   * VI/JSON; none on vCenters before 8.0U1, guest_config customization).
   */
  async findByName(name: string, call: CallOptions = {}): Promise<NodeRef[]> {
    const folder = this.reader(undefined).string("folder");
    const list = await this.json(
      "GET",
      `/api/vcenter/vm?names=${encodeURIComponent(name)}${folder ? `&folders=${encodeURIComponent(folder)}` : ""}`,
      undefined,
      call,
      `find VMs named ${name}`,
      VM_LIST,
    );
    // VI/JSON (vCenter 8.0U1+) is what guestinfo needs too; with customization it may not be there.
    const viJson = this.reader(undefined).string("guest_config") !== "customization";
    const refs: NodeRef[] = [];
    for (const { vm } of list.filter((v) => v.name === name)) {
      const claim = viJson ? await this.vim(call).extraConfigValue(vm, INTENT_OPTION) : undefined;
      refs.push({ platform: "esxi", id: vm, name, ...(claim ? { location: { [INTENT_KEY]: claim } } : {}) });
    }
    return refs;
  }

  /**
   * What the interrupted apply made: the VM carrying its claim, the recorded VM id, or — killed while the
   * clone was in flight, before the claim could be set — a VM of the name with no claim at all (the name
   * was free just before the clone). A VM with another apply's claim is never taken.
   */
  async findLeftovers(intent: NodeRef, call: CallOptions = {}): Promise<NodeRef[]> {
    const claim = claimOf(intent);
    const found = await this.findByName(intent.name, call);
    return found.filter((r) =>
      claim
        ? claimOf(r) === claim || (!claimOf(r) && (intent.id === "" || r.id === intent.id))
        : r.id === intent.id,
    );
  }

  private taskWait(call: CallOptions) {
    return {
      intervalMs: this.options.pollIntervalMs ?? 1000,
      ...(this.options.taskTimeoutMs ? { timeoutMs: this.options.taskTimeoutMs } : {}),
      ...(call.signal ? { signal: call.signal } : {}),
    };
  }

  private async findVm(name: string, call: CallOptions): Promise<string | undefined> {
    const list = await this.json(
      "GET",
      `/api/vcenter/vm?names=${encodeURIComponent(name)}`,
      undefined,
      call,
      "find the template",
      VM_LIST,
    );
    return list[0]?.vm;
  }

  private async power(ref: NodeRef, action: "start" | "stop", call: CallOptions): Promise<void> {
    const res = await this.request(
      "POST",
      `/api/vcenter/vm/${encodeURIComponent(ref.id)}/power?action=${action}`,
      undefined,
      call,
    );
    // Already in the wanted power state is success for us.
    if (res.status === 400 && /ALREADY_IN_DESIRED_STATE/.test(res.text)) return;
    this.unwrap(res, `${action} VM ${ref.id}`);
  }

  private async json<T>(
    method: string,
    path: string,
    body: unknown,
    call: CallOptions,
    what: string,
    shape: Shape<T> = shapes.ignored as Shape<T>,
  ): Promise<T> {
    return this.unwrap(await this.request(method, path, body, call), `${method} ${path} (${what})`, shape);
  }

  private async request(
    method: string,
    path: string,
    body: unknown,
    call: CallOptions,
  ): Promise<HttpResponse> {
    const client = this.client(call);
    if (!this.session) {
      const [user, password] = this.credentials();
      const basic = Buffer.from(`${user}:${password}`).toString("base64");
      registerSecret(basic);
      const res = await client.request("POST", "/api/session", undefined, {
        authorization: `Basic ${basic}`,
      });
      if (res.status === 401) {
        throw new PlatformApiError(
          "esxi",
          "PLATFORM_AUTH_FAILED",
          "vSphere rejected the login (POST /api/session: 401).",
          { status: 401, hint: "Check VSPHERE_USER (user@vsphere.local) and VSPHERE_PASSWORD." },
        );
      }
      // A standalone ESXi host (and vCenter before 7.0U2) has no /api: say what is needed, not "404".
      if (res.status === 404) throw needsVcenter("POST /api/session answered 404");
      this.session = this.unwrap(res, "POST /api/session (log in)", SESSION_ID);
      registerSecret(this.session);
    }
    const session = this.session;
    return client.request(method, path, body === undefined ? undefined : { json: body }, {
      "vmware-api-session-id": session,
    });
  }

  private client(call: CallOptions): HttpJsonClient {
    const o = this.reader(undefined);
    const url = (
      o.string("url") ??
      this.env.VSPHERE_URL ??
      this.env.GOVC_URL ??
      o.requireString("url", "VSPHERE_URL", this.env)
    ).replace(/\/(sdk|api)?\/?$/, "");
    return new HttpJsonClient({
      baseUrl: url,
      platform: "esxi",
      insecureTls: o.bool("insecure_tls") === true,
      ca: o.caPem(),
      ...(call.onCall ? { onCall: call.onCall } : {}),
    });
  }

  private unwrap<T>(res: HttpResponse, what: string, shape: Shape<T> = shapes.ignored as Shape<T>): T {
    if (res.status >= 200 && res.status < 300)
      return checkJsonBody("esxi", res, what, shape, VCENTER_EXAMPLE);
    const body = res.body as { error_type?: string; messages?: { default_message?: string }[] } | undefined;
    const detail =
      body && typeof body === "object"
        ? `${body.error_type ?? ""}${body.messages?.length ? `: ${body.messages.map((m) => m.default_message).join("; ")}` : ""}`
        : res.statusMessage;
    const code =
      res.status === 401
        ? "PLATFORM_AUTH_FAILED"
        : res.status === 404
          ? "PLATFORM_NOT_FOUND"
          : res.status === 403
            ? "PLATFORM_PERMISSION_DENIED"
            : "PLATFORM_API_ERROR";
    if (res.status === 401) this.session = undefined;
    return fail(
      new PlatformApiError("esxi", code, `vSphere: ${what} failed (${res.status} ${detail}).`, {
        status: res.status,
        hint: "Fix what vSphere names above; `labgate deploy plan` shows every request body.",
      }),
    );
  }
}

/**
 * The NIC backing type the vSphere Automation API wants for a network id (vcenter.vm.hardware.Ethernet
 * BackingType): standard port groups are network-N, distributed port groups dvportgroup-N, NSX opaque
 * networks network-oN. vCenter refuses a backing whose type does not match the network.
 */
export function networkBacking(
  network: string,
): "STANDARD_PORTGROUP" | "DISTRIBUTED_PORTGROUP" | "OPAQUE_NETWORK" | undefined {
  if (/^dvportgroup-\d+$/.test(network)) return "DISTRIBUTED_PORTGROUP";
  if (/^network-o\d+$/.test(network)) return "OPAQUE_NETWORK";
  if (/^network-\d+$/.test(network) || network.startsWith("<")) return "STANDARD_PORTGROUP";
  return undefined;
}

/** vSphere Automation API ids and answers labgate builds requests from (vcenter.VM, vcenter.vm.hardware.Ethernet). */
const VM_ID = shapes.stringMatching("a VM id (vm-N)", /^vm-\d+$/);
const SESSION_ID = shapes.stringMatching("a session id (a token string)", /^[^\s"<>]{8,512}$/);
const VM_INFO = {
  expects: "a VM object with power_state POWERED_ON, POWERED_OFF or SUSPENDED",
  check: (v: unknown) =>
    isRecord(v) &&
    typeof v.power_state === "string" &&
    /^(POWERED_ON|POWERED_OFF|SUSPENDED)$/.test(v.power_state)
      ? { power_state: v.power_state }
      : undefined,
} satisfies Shape<{ power_state: string }>;
const IDENTITY = {
  expects: "a guest identity object (ip_address an IP address or absent)",
  check: (v: unknown) => {
    if (!isRecord(v)) return undefined;
    const ip = v.ip_address;
    if (ip === undefined || ip === null) return {};
    return typeof ip === "string" && /^[0-9A-Fa-f.:]{2,45}$/.test(ip) ? { ip_address: ip } : undefined;
  },
} satisfies Shape<{ ip_address?: string }>;
const NIC_LIST = shapes.arrayOf({
  expects: 'NIC entries ({nic: "4000"})',
  check: (v: unknown) =>
    isRecord(v) && typeof v.nic === "string" && /^\d+$/.test(v.nic) ? { nic: v.nic } : undefined,
});
const VM_LIST = shapes.arrayOf({
  expects: 'VM entries ({vm: "vm-N", name})',
  check: (v: unknown) =>
    isRecord(v) && VM_ID.check(v.vm) !== undefined
      ? { vm: v.vm as string, name: String(v.name ?? "") }
      : undefined,
});
const VCENTER_EXAMPLE = "https://vcenter.lab";

function fail(error: Error): never {
  throw error;
}

function vsphereState(power: string | undefined): NodeState {
  switch (power) {
    case "POWERED_ON":
      return "running";
    case "POWERED_OFF":
    case "SUSPENDED":
      return "stopped";
    default:
      return "unknown";
  }
}
