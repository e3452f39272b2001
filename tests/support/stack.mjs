// A gateway in workerd wired to a demo issuer and a demo origin on 127.0.0.1, for tests.
import { startIssuer } from "../../demo/issuer.mjs";
import { startOrigin } from "../../demo/origin.mjs";
import { startGateway } from "./gateway.mjs";

export const STATUS_TOKEN = "status-token-for-tests-0123456789";

/** The [vars] a test gateway needs to talk to `issuer` and `origin`. */
export function gatewayVars(issuer, origin, overrides = {}) {
  return {
    JWT_AUTHORITY: issuer.url,
    JWT_AUDIENCE: issuer.audience,
    JWT_JWKS_URL: `${issuer.url}/jwks.json`,
    ORIGIN_URL: origin.url,
    STATUS_TOKEN,
    LOG_LEVEL: "error",
    ...overrides,
  };
}

/**
 * Starts an issuer, an origin and a gateway (unless `gateway: false`). Returns handles plus
 * `request(token, path)`, `status()` and `close()`.
 */
export async function startStack({ vars = {}, kvPersist = false, alg = "RS256", kvNamespaces } = {}) {
  const issuer = await startIssuer({ alg });
  const origin = await startOrigin();
  const stack = {
    issuer,
    origin,
    gateways: [],
    /** Starts another gateway instance (another isolate) with the same wiring. */
    async addGateway(extra = {}) {
      const gateway = await startGateway({
        vars: gatewayVars(issuer, origin, { ...vars, ...(extra.vars ?? {}) }),
        kvPersist: extra.kvPersist ?? kvPersist,
        kvNamespaces: extra.kvNamespaces ?? kvNamespaces,
      });
      stack.gateways.push(gateway);
      return gateway;
    },
    async close() {
      await Promise.all(stack.gateways.map((g) => g.close()));
      await Promise.all([issuer.close(), origin.close()]);
    },
  };
  return stack;
}

/** Sends `token` as a bearer token through `gateway`. */
export function request(gateway, token, path = "/orders/1", init = {}) {
  const headers = { ...(init.headers ?? {}) };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return gateway.fetch(path, { ...init, headers });
}

/** The gateway's status document. */
export async function status(gateway) {
  const res = await gateway.fetch("/_gateway/status", { headers: { authorization: `Bearer ${STATUS_TOKEN}` } });
  if (res.status !== 200) throw new Error(`status endpoint answered ${res.status}`);
  return res.json();
}
