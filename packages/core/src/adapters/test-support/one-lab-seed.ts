import type { OpenNebulaClient } from "../../platforms/opennebula/client.js";
import { toTemplateXml } from "../../platforms/opennebula/template-xml.js";
import type { ResolvedNetwork, ResolvedSpec } from "../types.js";

/**
 * What the OpenNebula adapter tests deploy into: a bridged VNet "lab" with 11 addresses from 192.168.3.30
 * and a small template "ubuntu". Returns the template's id.
 */
export async function seedOneLab(client: OpenNebulaClient): Promise<number> {
  await client.vnAllocate(
    toTemplateXml({
      NAME: "lab",
      VN_MAD: "bridge",
      BRIDGE: "br0",
      AR: { TYPE: "IP4", IP: "192.168.3.30", SIZE: 11 },
    }),
  );
  return client.templateAllocate(toTemplateXml({ NAME: "ubuntu", CPU: 1, MEMORY: 512 }));
}

/** A VM the OpenNebula adapter deploys into what seedOneLab made: template `templateId`, its NIC on VNet "lab". */
export function oneLabVmSpec(
  name: string,
  templateId: number,
  resolvedNetwork: ResolvedNetwork,
  size: Pick<ResolvedSpec, "cores" | "memory_mib"> = { cores: 1, memory_mib: 512 },
): ResolvedSpec {
  return {
    name,
    platform: "opennebula",
    os: { family: "linux" },
    ...size,
    template_id: String(templateId),
    network: { cidr: "192.168.3.0/24" },
    resolvedNetwork,
    platform_options: { opennebula: { network: "lab" } },
  };
}
