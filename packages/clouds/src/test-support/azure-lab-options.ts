/** The subnet of the ARM simulator's lab: virtual network "lab" in resource group "lab-rg" of subscription 0000. */
export const LAB_SUBNET =
  "/subscriptions/0000/resourceGroups/lab-rg/providers/Microsoft.Network/virtualNetworks/lab/subnets/default";

/** `platform_options.azure` for the lab in westeurope, sent to the ARM simulator at `url` trusting `caFile`. */
export function azureLabOptions(url: string, caFile: string, vmSize: string) {
  return {
    subscription_id: "0000",
    resource_group: "lab-rg",
    location: "westeurope",
    subnet_id: LAB_SUBNET,
    vm_size: vmSize,
    endpoint: url,
    ca_file: caFile,
  };
}
