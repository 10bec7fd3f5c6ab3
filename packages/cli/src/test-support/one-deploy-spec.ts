import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type OpenNebulaClient, toTemplateXml } from "@labgate/core";
import type { RunningOneSimulator } from "@labgate/core/simulators";
import { seedNetwork } from "../../../core/src/ip-pool/test-support/seed-network.js";

/**
 * What a `deploy` test on OpenNebula starts from: on the simulator, the network `lgt-<tag>-net`
 * (192.168.3.30–40) and the template `lgt-<tag>-tpl`; in `dir`, the VM spec `<tag>-one` that uses
 * them and the pool config, named to the CLI by LABGATE_IP_POOLS and ONE_SESSION.
 */
export async function seedOneDeploy(o: {
  one: RunningOneSimulator;
  client: OpenNebulaClient;
  dir: string;
  tag: string;
}): Promise<{ specPath: string; template: number }> {
  const { one, client, dir, tag } = o;
  await client.vnAllocate(
    toTemplateXml({
      NAME: `lgt-${tag}-net`,
      VN_MAD: "bridge",
      BRIDGE: "br0",
      GATEWAY: "192.168.3.1",
      NETWORK_MASK: "255.255.255.0",
      AR: { TYPE: "IP4", IP: "192.168.3.30", SIZE: 11 },
    }),
  );
  const template = await client.templateAllocate(
    toTemplateXml({ NAME: `lgt-${tag}-tpl`, MEMORY: 64, CPU: 1 }),
  );
  const specPath = join(dir, "vm.json");
  await writeFile(
    specPath,
    JSON.stringify({
      name: `${tag}-one`,
      platform: "opennebula",
      os: { family: "linux", distro: "ubuntu" },
      cores: 1,
      memory_mib: 512,
      template_id: String(template),
      network: { cidr: "192.168.3.0/24" },
      platform_options: { opennebula: { endpoint: one.endpoint, network: `lgt-${tag}-net` } },
    }),
  );
  await writeFile(join(dir, "ip_pools.json"), JSON.stringify({ networks: [seedNetwork()] }));
  process.env.LABGATE_IP_POOLS = join(dir, "ip_pools.json");
  process.env.ONE_SESSION = one.session;
  return { specPath, template };
}
