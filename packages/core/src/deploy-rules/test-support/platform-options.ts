/**
 * The smallest complete platform_options for every platform, as the deploy-rule tests give them: core's
 * rules.test.ts for its platforms, clouds' cloud-rules.test.ts for aws and azure (their adapters moved there).
 */
export const PLATFORM_OPTIONS = {
  proxmox: { node: "pve1", url: "https://pve.invalid:8006" },
  esxi: {
    url: "https://vc.invalid",
    datastore: "ds1",
    datastore_id: "datastore-1",
    resource_pool: "resgroup-1",
    folder: "group-v1",
    ssh_host: "esxi.invalid",
    ssh_key: "/k",
  },
  aws: { region: "eu-central-1", subnet_id: "subnet-1", instance_type: "t3.small" },
  azure: {
    subscription_id: "s",
    resource_group: "rg",
    location: "westeurope",
    subnet_id: "/sub",
    vm_size: "Standard_B2s",
  },
  opennebula: { network: "lab" },
  lxd: {},
  local: { command: ["python3", "-m", "http.server", "--bind", "{ip}", "8080"], ready_port: 8080 },
};
