// Regenerates gateway-fixtures.json: an Ed25519 key and access tokens carrying every
// combination of four scopes, made by the `jose` npm package (an implementation independent of
// ours), for the native request-pipeline tests (core/tests/pipeline.rs).
// Run from the repository root: node core/tests/data/generate-gateway-fixtures.mjs
import { writeFileSync } from "node:fs";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const ISSUER = "https://issuer.example";
const AUDIENCE = "order-service";
const IAT = 1_700_000_000;
const EXP = IAT + 3600;
const SCOPES = ["orders:read", "orders:write", "orders:admin", "any"];
const KID = "gateway-eddsa";

const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: "EdDSA", use: "sig" };

const tokens = [];
for (let mask = 0; mask < 1 << SCOPES.length; mask += 1) {
  const scopes = SCOPES.filter((_, i) => mask & (1 << i));
  const token = await new SignJWT({ sub: `user-${mask}`, scope: scopes.join(" ") })
    .setProtectedHeader({ alg: "EdDSA", kid: KID, typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(IAT)
    .setExpirationTime(EXP)
    .sign(privateKey);
  tokens.push({ scopes, token });
}

writeFileSync(
  new URL("./gateway-fixtures.json", import.meta.url),
  `${JSON.stringify({ issuer: ISSUER, audience: AUDIENCE, iat: IAT, exp: EXP, scopes: SCOPES, jwks: { keys: [jwk] }, tokens }, null, 2)}\n`,
);
console.log(`wrote ${tokens.length} tokens`);
