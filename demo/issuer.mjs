// Demo identity provider: OIDC discovery, a JWKS, a token endpoint and key rotation
// (POST /rotate[?retire=true]), on 127.0.0.1.
// Used by `npm run dev` (the newcomer's demo issuer) and by the end-to-end tests, which also
// use its request counters and failure modes. Keys and tokens are made with `jose`, an
// implementation independent of the gateway's Rust code.
import { createServer } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const KEY_OPTIONS = {
  RS256: { modulusLength: 2048 },
  RS384: { modulusLength: 2048 },
  RS512: { modulusLength: 2048 },
  PS256: { modulusLength: 2048 },
  PS384: { modulusLength: 2048 },
  PS512: { modulusLength: 2048 },
  ES256: {},
  ES384: {},
  EdDSA: { crv: "Ed25519" },
};

/**
 * How the JWKS endpoint answers: normally, in one of the provider-outage modes (`error`: 503,
 * `hang`: never, `garbage`: not JSON), or `empty`: a well-formed JWKS with no key, the issuer
 * revoking every key.
 */
export const JWKS_MODES = ["ok", "error", "hang", "garbage", "empty", "huge", "huge-chunked"];

/** Bytes of padding in the "huge" mode: a valid JWKS larger than the gateway's 256 KiB cap. */
const HUGE_PADDING = 300 * 1024;

/**
 * Starts the issuer. `port` 0 picks a free port. Returns a handle with the issuer URL, request
 * counters, `mint()`, `rotate()`, `setMode()` and `close()`.
 */
export async function startIssuer({ port = 0, alg = "RS256", audience = "order-service" } = {}) {
  const keys = []; // newest first: { kid, alg, privateKey, publicJwk }
  const published = []; // extra public JWKs served as they are, after the signing keys
  let serial = 0;
  let mode = "ok";
  const counts = { discovery: 0, jwks: 0, token: 0, other: 0 };
  const hanging = new Set();

  async function addKey(keyAlg = alg) {
    if (!KEY_OPTIONS[keyAlg]) throw new Error(`unsupported algorithm ${keyAlg}`);
    const { privateKey, publicKey } = await generateKeyPair(keyAlg, { ...KEY_OPTIONS[keyAlg], extractable: true });
    serial += 1;
    const kid = `demo-${keyAlg.toLowerCase()}-${serial}`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: keyAlg, use: "sig" };
    keys.unshift({ kid, alg: keyAlg, privateKey, publicJwk });
    return kid;
  }
  await addKey();

  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://localhost").pathname;
    const send = (status, body, type = "application/json") => {
      res.writeHead(status, { "content-type": type, "cache-control": "max-age=300" });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    if (path === "/.well-known/openid-configuration") {
      counts.discovery += 1;
      return send(200, { issuer: handle.url, jwks_uri: `${handle.url}/jwks.json`, token_endpoint: `${handle.url}/token` });
    }
    if (path === "/jwks.json") {
      counts.jwks += 1;
      if (mode === "error") return send(503, { error: "unavailable" });
      if (mode === "garbage") return send(200, "<html>not a key set</html>", "text/html");
      if (mode === "hang") {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return undefined;
      }
      if (mode === "empty") return send(200, { keys: [] });
      if (mode === "huge") return send(200, { ...handle.jwks(), padding: "x".repeat(HUGE_PADDING) });
      if (mode === "huge-chunked") {
        // No Content-Length, and a body that goes on at 16 KiB every 10 ms for 30 s (or until
        // the client hangs up): a reader that counts while it streams stops after 256 KiB; one
        // that reads to the end times out first.
        res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" });
        const chunk = "x".repeat(16 * 1024);
        const until = Date.now() + 30_000;
        const more = () => {
          if (res.destroyed || Date.now() >= until) return res.end();
          res.write(chunk);
          setTimeout(more, 10).unref();
        };
        res.write(JSON.stringify(handle.jwks()).slice(0, -1) + ', "padding": "');
        return more();
      }
      return send(200, handle.jwks());
    }
    if (path === "/token" && req.method === "POST") {
      counts.token += 1;
      const scope = new URL(req.url, "http://localhost").searchParams.get("scope") ?? "orders:read";
      return handle
        .mint({ sub: "demo-client", scope })
        .then((access_token) => send(200, { access_token, token_type: "Bearer", expires_in: 3600 }));
    }
    if (path === "/rotate" && req.method === "POST") {
      // A new signing key; `?retire=true` also removes the older ones from the JWKS.
      const retire = new URL(req.url, "http://localhost").searchParams.get("retire") === "true";
      return handle.rotate({ retire }).then((kid) => send(200, { kid, kids: handle.kids }));
    }
    counts.other += 1;
    return send(404, { error: "not_found" });
  });

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });

  const handle = {
    url: `http://127.0.0.1:${server.address().port}`,
    audience,
    counts,
    get kids() {
      return keys.map((k) => k.kid);
    },
    /** The current public key set, as served (in mode "ok"). */
    jwks() {
      return { keys: [...keys.map((k) => k.publicJwk), ...published] };
    },
    /**
     * Adds `jwk` to the served key set as it is, unchecked (a test's hostile or broken key); it
     * signs nothing. Returns its kid.
     */
    publish(jwk) {
      published.push(jwk);
      return jwk.kid;
    },
    /**
     * Signs a token with the newest key (or the key `kid`). Standard claims default to a valid
     * access token for this issuer; `claims` and `header` override or add to them. `issuer` and
     * `audience` replace this issuer's `iss` and `aud` (`null`: no such claim), for tokens that
     * claim to come from someone else.
     */
    async mint(claims = {}, { kid, header = {}, expiresIn = "1h", issuer = handle.url, audience: aud = audience } = {}) {
      const key = kid ? keys.find((k) => k.kid === kid) : keys[0];
      if (!key) throw new Error(`no key ${kid}`);
      const jwt = new SignJWT({ sub: "demo-user", ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header });
      if (issuer !== null) jwt.setIssuer(issuer);
      if (aud !== null) jwt.setAudience(aud);
      return jwt.setIssuedAt().setExpirationTime(expiresIn).sign(key.privateKey);
    },
    /** Adds a new newest key; with `{ retire: true }` the older keys leave the set. */
    async rotate({ alg: keyAlg = alg, retire = false } = {}) {
      const kid = await addKey(keyAlg);
      if (retire) keys.splice(1);
      return kid;
    },
    setMode(next) {
      if (!JWKS_MODES.includes(next)) throw new Error(`unknown mode ${next}`);
      mode = next;
    },
    resetCounts() {
      for (const name of Object.keys(counts)) counts[name] = 0;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return handle;
}
