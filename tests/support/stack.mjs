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

/**
 * One provider of `JWT_ISSUERS` for a demo `issuer`: its URL and audience, its keys at
 * `/jwks.json` (or through OIDC discovery with `discovery: true`), `name` when given, and any
 * other fields in `extra` as they are.
 */
export function providerEntry(issuer, { name, discovery = false, ...extra } = {}) {
  return {
    ...(name === undefined ? {} : { name }),
    issuer: issuer.url,
    audience: issuer.audience,
    ...(discovery ? {} : { jwks_url: `${issuer.url}/jwks.json` }),
    ...extra,
  };
}

/**
 * The [vars] of a test gateway that trusts `providers` (`JWT_ISSUERS`, as a JSON string, or as
 * the array itself, a `[vars]` JSON value, with `asArray`) and forwards to `origin`.
 */
export function multiIssuerVars(providers, origin, overrides = {}, { asArray = false } = {}) {
  return {
    JWT_ISSUERS: asArray ? providers : JSON.stringify(providers),
    ORIGIN_URL: origin.url,
    STATUS_TOKEN,
    LOG_LEVEL: "error",
    ...overrides,
  };
}

/** The entry of the status document's `providers` called `name`. */
export function providerStatus(document, name) {
  const found = (document.providers ?? []).find((p) => p.name === name);
  if (!found) throw new Error(`no provider ${name} in ${JSON.stringify(document.providers ?? document)}`);
  return found;
}

/** Requests a demo issuer has had for its keys (discovery documents and key sets). */
export function keyRequests(issuer) {
  return issuer.counts.discovery + issuer.counts.jwks;
}
