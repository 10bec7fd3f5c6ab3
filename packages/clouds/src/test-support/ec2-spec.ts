import type { DeploySpec } from "@labgate/core";

/** An Ubuntu AMI deploy spec on one eu-central-1 subnet, sent to the EC2 simulator at `url`. */
export function ec2Spec(
  url: string,
  node: { name: string; memory_mib: number; instance_type: string },
): DeploySpec {
  return {
    name: node.name,
    os: { family: "linux", distro: "ubuntu" },
    cores: 2,
    memory_mib: node.memory_mib,
    image: { ref: "ami-0abcdef1234567890", format: "ami" },
    network: {},
    platform_options: {
      aws: {
        region: "eu-central-1",
        subnet_id: "subnet-0123456789abcdef0",
        instance_type: node.instance_type,
        endpoint: url,
      },
    },
  };
}
