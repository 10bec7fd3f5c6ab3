import { type SimRequest, startSim } from "../../../core/src/adapters/test-support/http-sim.js";

/**
 * The managed identity endpoint App Service gives its apps (learn.microsoft.com/azure/app-service/
 * overview-managed-identity, "REST endpoint reference"): GET IDENTITY_ENDPOINT?resource=...&api-version=
 * 2019-08-01 with the X-IDENTITY-HEADER secret answers {access_token, expires_on, resource, token_type}.
 * DefaultAzureCredential (ManagedIdentityCredential) takes it from IDENTITY_ENDPOINT and IDENTITY_HEADER,
 * so a separate `labgate` process gets the simulator's bearer token the way a real deployment would.
 */
export async function startManagedIdentityEndpoint(options: { token: string; header: string }) {
  const server = await startSim((req: SimRequest) => {
    if (req.method !== "GET") return { status: 405, body: { error: "method not allowed" } };
    if (req.headers["x-identity-header"] !== options.header)
      return { status: 401, body: { error: "invalid_request", error_description: "X-IDENTITY-HEADER" } };
    const resource = req.query.get("resource");
    if (!resource || req.query.get("api-version") !== "2019-08-01")
      return { status: 400, body: { error: "invalid_request", error_description: "resource, api-version" } };
    return {
      status: 200,
      body: {
        access_token: options.token,
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource,
        token_type: "Bearer",
      },
    };
  });
  return {
    ...server,
    env: { IDENTITY_ENDPOINT: `${server.url}/msi/token`, IDENTITY_HEADER: options.header },
  };
}
