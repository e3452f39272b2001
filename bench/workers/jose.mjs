// Reference Worker for bench/gateway.mjs: bearer JWT verification written the idiomatic way with
// `jose`, as a user would instead of this gateway. Bundled for workerd with esbuild (webapi build).
//
// - One createRemoteJWKSet per isolate, at module scope (in-memory JWKS, jose's own cooldown).
// - Workers KV as the JWKS cache shared by isolates, the way jose documents it for stateless
//   runtimes: the remote set is created with the `jwksCache` option seeded from KV
//   ({ jwks, uat }), and whenever jose fetched a new set (`uat` moved) it is written back to KV
//   with an expirationTtl, after the response (ctx.waitUntil).
// - jwtVerify with the issuer, audience and algorithm allow-list; 401 on any failure; verified
//   requests are forwarded to ORIGIN_URL + path + query with X-Auth-Subject.
import { createRemoteJWKSet, jwksCache, jwtVerify } from "jose";

const KV_KEY = "jose:jwks";
const KV_TTL_SECONDS = 600;

let jwks; // the isolate's remote key set
let cacheState; // { jwks, uat } shared with jose; persisted in KV
let storedUat; // the uat that KV holds

async function keySet(env) {
  if (jwks) return jwks;
  const state = (await env.JWKS_CACHE.get(KV_KEY, "json")) ?? {};
  if (jwks) return jwks; // another request of this isolate got here first
  cacheState = state;
  storedUat = state.uat;
  jwks = createRemoteJWKSet(new URL(env.JWT_JWKS_URL), { [jwksCache]: cacheState });
  return jwks;
}

function unauthorized(description) {
  return new Response(JSON.stringify({ error: "invalid_token", error_description: description }), {
    status: 401,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "www-authenticate": `Bearer error="invalid_token"`,
    },
  });
}

export default {
  async fetch(request, env, ctx) {
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(request.headers.get("authorization") ?? "");
    if (!match) return unauthorized("missing bearer token");
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1], await keySet(env), {
        issuer: env.JWT_AUTHORITY,
        audience: env.JWT_AUDIENCE,
        algorithms: (env.JWT_ALGORITHMS ?? "RS256").split(","),
      }));
    } catch (err) {
      return unauthorized(err?.code ?? "invalid token");
    } finally {
      if (cacheState?.uat !== undefined && cacheState.uat !== storedUat) {
        storedUat = cacheState.uat;
        ctx.waitUntil(
          env.JWKS_CACHE.put(KV_KEY, JSON.stringify({ jwks: cacheState.jwks, uat: cacheState.uat }), {
            expirationTtl: KV_TTL_SECONDS,
          }),
        );
      }
    }
    const url = new URL(request.url);
    const forwarded = new Request(`${env.ORIGIN_URL}${url.pathname}${url.search}`, request);
    forwarded.headers.set("x-auth-subject", String(payload.sub ?? ""));
    return fetch(forwarded);
  },
};
