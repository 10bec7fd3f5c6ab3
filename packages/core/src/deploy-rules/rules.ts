import { formatIpv4, parseIpv4, prefixToNetmask } from "../ip-pool/ipv4.js";
import type { Finding } from "./findings.js";
import { localNetworkRules } from "./local-rules.js";
import { CLOUD_PLATFORMS, type DeploySpec, ON_PREM_PLATFORMS, type PlatformName } from "./spec.js";

/** Capabilities the shared rules look at (a subset of PlatformCapabilities, kept apart so rules stay pure). */
export interface RuleCapabilities {
  dhcpAvailable: boolean;
  windowsDiskBus: string;
  imageFormats: readonly string[];
  convertibleFormats: readonly string[];
  cloneFromTemplate: boolean;
}

/** The disk buses a Windows guest has no in-box driver for. */
const WINDOWS_UNSAFE_BUSES = ["scsi", "virtio", "virtio-scsi", "pvscsi", "nvme"];

/** Whether a VM on this platform gets its address by DHCP unless the spec says otherwise. */
export function usesDhcp(spec: DeploySpec, platform: PlatformName): boolean {
  if (CLOUD_PLATFORMS.includes(platform)) return spec.network.static !== true;
  return spec.network.dhcp === true;
}

/**
 * The platform lessons, as rules. Pure: the pool is not touched here (an address that will be
 * allocated shows as an info finding), so `deploy check` can run anywhere.
 */
export function checkDeployRules(
  spec: DeploySpec,
  platform: PlatformName,
  caps: RuleCapabilities,
): Finding[] {
  return [
    ...networkRules(spec, platform),
    ...(platform === "local" ? localNetworkRules(spec) : []),
    ...windowsRules(spec, platform, caps),
    ...sourceRules(spec, platform, caps),
  ];
}

function networkRules(spec: DeploySpec, platform: PlatformName): Finding[] {
  const out: Finding[] = [];
  const n = spec.network;
  const onPrem = ON_PREM_PLATFORMS.includes(platform);
  if (n.prefix !== undefined && n.netmask !== undefined && prefixToNetmask(n.prefix) !== n.netmask) {
    out.push({
      code: "NETWORK_MASK_MISMATCH",
      severity: "error",
      field: "network.netmask",
      message: `network.netmask ${n.netmask} does not match network.prefix /${n.prefix} (${prefixToNetmask(n.prefix)}).`,
      fix: "Give one of them, or make them agree.",
    });
  }
  if (n.netmask !== undefined && maskToPrefix(n.netmask) === undefined) {
    out.push({
      code: "NETWORK_MASK_INVALID",
      severity: "error",
      field: "network.netmask",
      message: `network.netmask ${n.netmask} is not a contiguous netmask.`,
      fix: "Use e.g. 255.255.255.0 (or prefix 24).",
    });
  }
  const prefix =
    n.prefix ??
    (n.netmask ? maskToPrefix(n.netmask) : undefined) ??
    (n.cidr ? Number(n.cidr.split("/")[1]) : undefined);
  if (n.cidr && prefix !== undefined) {
    const cidrPrefix = Number(n.cidr.split("/")[1]);
    const base = n.cidr.split("/")[0] as string;
    if (networkOf(base, cidrPrefix) !== base) {
      out.push({
        code: "NETWORK_CIDR_HOST_BITS",
        severity: "error",
        field: "network.cidr",
        message: `network.cidr ${n.cidr} has host bits set.`,
        fix: `Use ${networkOf(base, cidrPrefix)}/${cidrPrefix}.`,
      });
    }
    if (prefix !== cidrPrefix) {
      out.push({
        code: "NETWORK_MASK_MISMATCH",
        severity: "error",
        field: "network.prefix",
        message: `The prefix /${prefix} disagrees with network.cidr ${n.cidr}.`,
        fix: "Make them agree.",
      });
    }
    for (const key of ["ip", "gateway"] as const) {
      const addr = n[key];
      if (addr && networkOf(addr, cidrPrefix) !== networkOf(base, cidrPrefix)) {
        out.push({
          code: key === "ip" ? "NETWORK_IP_OUTSIDE_SUBNET" : "NETWORK_GATEWAY_OUTSIDE_SUBNET",
          severity: "error",
          field: `network.${key}`,
          message: `network.${key} ${addr} is not inside ${n.cidr}.`,
          fix: `Use an address in ${n.cidr}, or correct the CIDR.`,
        });
      }
    }
  }
  if (onPrem) {
    if (n.dhcp === true) {
      out.push({
        code: platform === "proxmox" || platform === "esxi" ? "ON_PREM_DHCP_ASSUMED" : "NETWORK_DHCP",
        severity: platform === "proxmox" || platform === "esxi" ? "warning" : "info",
        field: "network.dhcp",
        message: `network.dhcp is true: the VM will ask for an address by DHCP${platform === "proxmox" || platform === "esxi" ? `, but ${platform} lab networks usually have no DHCP server, so it may come up unreachable` : ""}.`,
        fix: "Remove dhcp (a static address is then allocated from the pool) unless you know this network runs DHCP.",
      });
      return out;
    }
    if (!n.ip && !n.cidr) {
      out.push({
        code: "STATIC_ADDRESS_REQUIRED",
        severity: "error",
        field: "network",
        message: `${platform} networks have no DHCP: the VM needs a static address, but the spec gives neither network.ip nor network.cidr to allocate one from.`,
        fix: 'Add "network": {"cidr": "192.168.3.0/24"} (an address is then taken from the IP pool) or a full static config (ip, prefix, gateway, dns).',
      });
    } else if (!n.ip) {
      out.push({
        code: "STATIC_ADDRESS_FROM_POOL",
        severity: "info",
        field: "network.ip",
        message: `No network.ip: an address in ${n.cidr} will be allocated from the IP pool (with its fallback), and gateway, netmask and DNS filled from the pool config.`,
        fix: "Nothing to do; set network.ip to choose the address yourself.",
      });
    } else {
      const missing = [
        prefix === undefined ? "prefix/netmask" : undefined,
        n.gateway === undefined ? "gateway" : undefined,
        n.dns === undefined || n.dns.length === 0 ? "dns" : undefined,
      ].filter((x): x is string => x !== undefined);
      if (missing.length > 0) {
        out.push({
          code: "STATIC_NETWORK_INCOMPLETE",
          severity: "warning",
          field: "network",
          message: `network.ip is set but ${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} missing; they will be taken from the IP pool config for the subnet, and the deployment stops if the subnet is not configured there.`,
          fix: `Add ${missing.join(", ")} to the spec, or make sure config/ip_pools.json describes the subnet.`,
        });
      }
    }
    return out;
  }
  // The local platform has its own network rules (loopback only, see local-rules.ts).
  if (!CLOUD_PLATFORMS.includes(platform)) return out;
  // Cloud: DHCP by default, static only when asked.
  if (n.static === true && !n.ip) {
    out.push({
      code: "CLOUD_STATIC_WITHOUT_ADDRESS",
      severity: "error",
      field: "network.ip",
      message: `network.static is true but there is no network.ip to pin (${platform} addresses are not taken from labgate's pool).`,
      fix: "Give network.ip (a free private address in the subnet), or drop static to use DHCP.",
    });
  }
  if (n.static !== true && n.ip) {
    out.push({
      code: "CLOUD_IP_WITHOUT_STATIC",
      severity: "error",
      field: "network.ip",
      message: `network.ip is set, but ${platform} assigns addresses by DHCP unless network.static is true.`,
      fix: 'Add "static": true to keep this address, or remove network.ip.',
    });
  }
  if (n.dhcp === false && n.static !== true) {
    out.push({
      code: "CLOUD_DHCP_FALSE",
      severity: "warning",
      field: "network.dhcp",
      message: `network.dhcp is false but ${platform} subnets always run DHCP; without static: true the VM still gets a DHCP address.`,
      fix: 'Use "static": true with an ip to pin the address.',
    });
  }
  if (n.gateway || (n.dns && n.dns.length > 0)) {
    out.push({
      code: "CLOUD_GATEWAY_DNS_IGNORED",
      severity: "info",
      field: "network",
      message: `${platform} takes the gateway and DNS from the virtual network; network.gateway/dns are not sent.`,
      fix: "Remove them, or configure them on the VPC / virtual network.",
    });
  }
  return out;
}

function windowsRules(spec: DeploySpec, platform: PlatformName, caps: RuleCapabilities): Finding[] {
  if (spec.os.family !== "windows") return [];
  const out: Finding[] = [];
  const options = platformOptions(spec, platform);
  const bus = typeof options.disk_bus === "string" ? options.disk_bus.toLowerCase() : undefined;
  if (platform === "proxmox" || platform === "esxi") {
    if (bus && WINDOWS_UNSAFE_BUSES.includes(bus) && options.virtio_drivers !== true) {
      out.push({
        code: "WINDOWS_DISK_BUS_UNSAFE",
        severity: "error",
        field: `platform_options.${platform}.disk_bus`,
        message: `Windows on ${platform} with a ${bus} disk does not boot without the drivers for it (INACCESSIBLE_BOOT_DEVICE).`,
        fix: `Use "disk_bus": "sata" (the disk becomes sata0), or set "virtio_drivers": true if the template has the drivers installed.`,
      });
    } else {
      out.push({
        code: "WINDOWS_DISK_SATA",
        severity: "info",
        field: "os.family",
        message: `Windows guest: the system disk is attached as ${caps.windowsDiskBus === "sata" ? "SATA (sata0)" : caps.windowsDiskBus}, never SCSI/VirtIO without drivers.`,
        fix: "Nothing to do.",
      });
    }
  }
  if (caps.cloneFromTemplate && spec.template_id === undefined) {
    out.push({
      code: "WINDOWS_NO_TEMPLATE",
      severity: "warning",
      field: "template_id",
      message:
        "A Windows deployment without a template means an unattended install, which is slow and fragile.",
      fix: "Prepare a sysprepped Windows template (with cloudbase-init) once and set template_id.",
    });
  }
  return out;
}

function sourceRules(spec: DeploySpec, platform: PlatformName, caps: RuleCapabilities): Finding[] {
  const out: Finding[] = [];
  const format = spec.image?.format;
  // A local node runs platform_options.local.command; the local adapter checks it.
  if (platform === "local")
    return templateRefused(
      spec,
      platform,
      "Remove template_id; platform_options.local.command says what the node runs.",
    );
  if (spec.template_id === undefined && !spec.image?.source && !spec.image?.ref) {
    out.push({
      code: "SOURCE_MISSING",
      severity: "error",
      field: "template_id",
      message:
        "The spec says neither what to clone (template_id) nor which image to use (image.source or image.ref).",
      fix: caps.cloneFromTemplate
        ? "Set template_id (preferred: clone from a template)."
        : "Set image.ref (e.g. an AMI id or image URN).",
    });
  }
  if (!caps.cloneFromTemplate) out.push(...templateRefused(spec, platform, "Use image.ref instead."));
  if (
    spec.template_id === undefined &&
    caps.cloneFromTemplate &&
    spec.os.family === "linux" &&
    (spec.image?.source || spec.image?.ref)
  ) {
    out.push({
      code: "TEMPLATE_PREFERRED",
      severity: "info",
      field: "template_id",
      message:
        "No template_id: the image is imported and the VM built from it; cloning a prepared template is faster and repeatable.",
      fix: "After the first import, turn the VM into a template and set template_id.",
    });
  }
  if (format && spec.template_id === undefined) {
    if (caps.convertibleFormats.includes(format)) {
      out.push({
        code: "IMAGE_NEEDS_CONVERSION",
        severity: "info",
        field: "image.format",
        message: `${platform} does not boot ${format} images as-is: the plan converts it first.`,
        fix: "Nothing to do; `labgate deploy plan` shows each conversion step.",
      });
    } else if (!caps.imageFormats.includes(format)) {
      out.push({
        code: "IMAGE_FORMAT_UNSUPPORTED",
        severity: "error",
        field: "image.format",
        message: `${platform} cannot use ${format} images.`,
        fix: `Use one of: ${[...caps.imageFormats, ...caps.convertibleFormats].join(", ") || "a template"}.`,
      });
    }
  }
  return out;
}

function templateRefused(spec: DeploySpec, platform: PlatformName, fix: string): Finding[] {
  if (spec.template_id === undefined) return [];
  return [
    {
      code: "TEMPLATE_NOT_SUPPORTED",
      severity: "error",
      field: "template_id",
      message: `${platform} does not clone from templates here.`,
      fix,
    },
  ];
}

/** The spec's options for this platform (`platform_options.proxmox`), or an empty object. */
export function platformOptions(spec: DeploySpec, platform: PlatformName): Record<string, unknown> {
  const v = spec.platform_options?.[platform];
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function maskToPrefix(mask: string): number | undefined {
  const n = parseIpv4(mask);
  const prefix = 32 - Math.log2((~n >>> 0) + 1);
  return Number.isInteger(prefix) ? prefix : undefined;
}

function networkOf(ip: string, prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return formatIpv4((parseIpv4(ip) & mask) >>> 0);
}
