// Reference for bench/cold-instructions.mjs: the pass-through (bench/workers/passthrough.mjs)
// after one read of a key-set-sized KV record, as the first request of the jose Worker and of the
// gateway each make. In a fresh workerd it shows what that read costs locally, where Miniflare's
// KV service runs as JavaScript in the same process (production's KV does not). The record is
// written by the first request that finds none, after the response.
const KEY = "jwks";

export default {
  async fetch(request, env, ctx) {
    const record = await env.JWKS_CACHE.get(KEY, "json");
    if (record === null) {
      const jwks = { keys: [{ kty: "RSA", kid: "k", n: "n".repeat(342), e: "AQAB" }] };
      ctx.waitUntil(env.JWKS_CACHE.put(KEY, JSON.stringify({ jwks, at: Date.now() })));
    }
    const url = new URL(request.url);
    return fetch(`${env.ORIGIN_URL}${url.pathname}${url.search}`, request);
  },
};
