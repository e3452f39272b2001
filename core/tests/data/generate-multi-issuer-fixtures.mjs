// Regenerates multi-issuer-fixtures.json: two issuers whose Ed25519 keys share one `kid`, their
// tokens, and the tokens an attacker would try across them (one issuer's `iss` signed with the
// other's key), made by the `jose` npm package (an implementation independent of ours), for the
// native multi-issuer pipeline tests (core/tests/multi_issuer.rs).
// Run from the repository root: node core/tests/data/generate-multi-issuer-fixtures.mjs
import { writeFileSync } from "node:fs";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const IAT = 1_700_000_000;
const EXP = IAT + 3600;
// The same kid on both sides: a gateway that looked keys up by kid alone would mix them up.
const KID = "shared-kid";
const ISSUERS = {
  main: { issuer: "https://issuer.example", audience: "order-service" },
  partner: { issuer: "https://partner.example", audience: "partner-api" },
};

const keys = {};
for (const name of Object.keys(ISSUERS)) {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  keys[name] = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: KID, alg: "EdDSA", use: "sig" } };
}

/** A token with `claims` (iss and aud of `claimsOf`, unless overridden) signed by `signer`'s key. */
async function token(claimsOf, signer, claims = {}) {
  const { issuer, audience } = ISSUERS[claimsOf];
  return new SignJWT({ sub: `${claimsOf}-user`, scope: "orders:read", iss: issuer, aud: audience, ...claims })
    .setProtectedHeader({ alg: "EdDSA", kid: KID, typ: "JWT" })
    .setIssuedAt(IAT)
    .setExpirationTime(EXP)
    .sign(keys[signer].privateKey);
}

const tokens = {
  main: await token("main", "main"),
  partner: await token("partner", "partner"),
  // Cross-issuer confusion, both ways.
  main_signed_by_partner: await token("main", "partner"),
  partner_signed_by_main: await token("partner", "main"),
  // The partner's audience on a main token: only the partner accepts it.
  main_with_partner_audience: await token("main", "main", { aud: ISSUERS.partner.audience }),
  unknown_issuer: await token("main", "main", { iss: "https://unknown.example" }),
  without_issuer: await token("main", "main", { iss: undefined }),
  numeric_issuer: await token("main", "main", { iss: 7 }),
};

writeFileSync(
  new URL("./multi-issuer-fixtures.json", import.meta.url),
  `${JSON.stringify(
    {
      iat: IAT,
      exp: EXP,
      issuers: Object.fromEntries(
        Object.entries(ISSUERS).map(([name, value]) => [name, { ...value, jwks: { keys: [keys[name].jwk] } }]),
      ),
      tokens,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${Object.keys(tokens).length} tokens`);
