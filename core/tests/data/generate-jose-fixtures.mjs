// Regenerates jose-fixtures.json: keys and tokens made by the `jose` npm package, an
// implementation independent of ours, for the native verification tests.
// Run from the repository root: node core/tests/data/generate-jose-fixtures.mjs
import { writeFileSync } from "node:fs";
import { createHmac, generateKeyPairSync, KeyObject, sign as nodeSign } from "node:crypto";
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT } from "jose";

const ISSUER = "https://issuer.example";
const AUDIENCE = "order-service";
const IAT = 1_700_000_000;
const EXP = IAT + 3600;
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];
const OPTIONS = { EdDSA: { crv: "Ed25519" } };

const b64url = (data) => Buffer.from(data).toString("base64url");
const claims = { sub: "alice", scope: "orders:read orders:write" };

function sign(alg, privateKey, header = {}, payload = claims) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg, typ: "JWT", ...header })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(IAT)
    .setExpirationTime(EXP)
    .sign(privateKey);
}

const keys = [];
const tokens = [];
const privateKeys = {};
for (const alg of ALGORITHMS) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { ...OPTIONS[alg], extractable: true });
  const kid = `jose-${alg.toLowerCase()}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  keys.push(jwk);
  privateKeys[alg] = { privateKey, publicKey, jwk, kid };
  tokens.push({ name: `${alg} minted by jose`, alg, kid, token: await sign(alg, privateKey, { kid }) });
}

// Attacks that need a real signing implementation. Each expects a stable rejection code.
const rsa = privateKeys.RS256;
const attacks = [];
const hs256 = (secret, header) => {
  const h = b64url(JSON.stringify({ alg: "HS256", typ: "JWT", ...header }));
  const p = b64url(JSON.stringify({ ...claims, iss: ISSUER, aud: AUDIENCE, iat: IAT, exp: EXP }));
  const mac = createHmac("sha256", secret).update(`${h}.${p}`).digest();
  return `${h}.${p}.${b64url(mac)}`;
};
const pem = await exportSPKI(rsa.publicKey);
attacks.push({ name: "HS256 signed with the RSA public key (PEM)", code: "algorithm_not_allowed", token: hs256(pem, { kid: rsa.kid }) });
attacks.push({ name: "HS256 signed with the RSA public key (JWK JSON)", code: "algorithm_not_allowed", token: hs256(JSON.stringify(rsa.jwk), { kid: rsa.kid }) });
attacks.push({ name: "HS256 signed with the RSA modulus bytes", code: "algorithm_not_allowed", token: hs256(Buffer.from(rsa.jwk.n, "base64url"), { kid: rsa.kid }) });

const attacker = await generateKeyPair("RS256", { extractable: true });
const attackerJwk = await exportJWK(attacker.publicKey);
attacks.push({ name: "embedded jwk with an unknown kid", code: "unknown_key", token: await sign("RS256", attacker.privateKey, { kid: "attacker", jwk: attackerJwk }) });
attacks.push({ name: "embedded jwk with the real kid", code: "bad_signature", token: await sign("RS256", attacker.privateKey, { kid: rsa.kid, jwk: attackerJwk }) });
attacks.push({ name: "jku pointing at the attacker", code: "bad_signature", token: await sign("RS256", attacker.privateKey, { kid: rsa.kid, jku: "https://attacker.example/jwks.json" }) });
attacks.push({ name: "x5u pointing at the attacker", code: "bad_signature", token: await sign("RS256", attacker.privateKey, { kid: rsa.kid, x5u: "https://attacker.example/cert.pem" }) });
attacks.push({ name: "x5c with the attacker's certificate", code: "bad_signature", token: await sign("RS256", attacker.privateKey, { kid: rsa.kid, x5c: ["MIIBfake"] }) });
const rsaAsPss = await importJWK({ ...(await exportJWK(rsa.privateKey)), alg: "PS256" }, "PS256");
attacks.push({ name: "RS256 key used for PS256", code: "key_mismatch", token: await sign("PS256", rsaAsPss, { kid: rsa.kid }) });
attacks.push({ name: "ES256 token naming the RSA key", code: "key_mismatch", token: await sign("ES256", privateKeys.ES256.privateKey, { kid: rsa.kid }) });
attacks.push({ name: "RS256 token naming the RS384-only key", code: "key_mismatch", token: await sign("RS256", rsa.privateKey, { kid: privateKeys.RS384.kid }) });
// A second RSA key without its own alg: any RSA algorithm may use it, so the signature decides.
const other = await generateKeyPair("RS256", { extractable: true });
const otherJwk = { ...(await exportJWK(other.publicKey)), kid: "jose-rsa-no-alg", use: "sig" };
attacks.push({ name: "kid of another key of the same type", code: "bad_signature", token: await sign("RS256", rsa.privateKey, { kid: otherJwk.kid }) });
tokens.push({ name: "RS512 with a key that has no alg of its own", alg: "RS512", kid: otherJwk.kid, token: await sign("RS512", await importJWK({ ...(await exportJWK(other.privateKey)), alg: "RS512" }, "RS512"), { kid: otherJwk.kid }) });
// jose refuses to sign with crit extensions it does not know, so these are signed with node:crypto.
const rawRs256 = (header, privateKey = KeyObject.from(rsa.privateKey)) => {
  const h = b64url(JSON.stringify({ alg: "RS256", kid: rsa.kid, ...header }));
  const p = b64url(JSON.stringify({ ...claims, iss: ISSUER, aud: AUDIENCE, iat: IAT, exp: EXP }));
  return `${h}.${p}.${b64url(nodeSign("sha256", Buffer.from(`${h}.${p}`), privateKey))}`;
};
attacks.push({ name: "crit with an unknown extension", code: "unsupported_header", token: rawRs256({ crit: ["exp"], exp: 1 }) });
attacks.push({ name: "b64=false", code: "unsupported_header", token: rawRs256({ b64: false, crit: ["b64"] }) });
attacks.push({ name: "zip=DEF", code: "unsupported_header", token: rawRs256({ zip: "DEF" }) });
tokens.push({ name: "RS256 signed by node:crypto (control for the raw attacks)", alg: "RS256", kid: rsa.kid, token: rawRs256({}) });
attacks.push({ name: "expired", code: "token_expired", token: await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: rsa.kid }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(IAT - 7200).setExpirationTime(IAT - 3600).sign(rsa.privateKey) });
attacks.push({ name: "string exp", code: "invalid_claim", token: await new SignJWT({ ...claims, exp: String(EXP) }).setProtectedHeader({ alg: "RS256", kid: rsa.kid }).setIssuer(ISSUER).setAudience(AUDIENCE).sign(rsa.privateKey) });
attacks.push({ name: "empty aud array", code: "invalid_audience", token: await new SignJWT({ ...claims, aud: [] }).setProtectedHeader({ alg: "RS256", kid: rsa.kid }).setIssuer(ISSUER).setExpirationTime(EXP).sign(rsa.privateKey) });
attacks.push({ name: "wrong issuer", code: "invalid_issuer", token: await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: rsa.kid }).setIssuer(`${ISSUER}.evil`).setAudience(AUDIENCE).setExpirationTime(EXP).sign(rsa.privateKey) });
attacks.push({ name: "no exp", code: "missing_claim", token: await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: rsa.kid }).setIssuer(ISSUER).setAudience(AUDIENCE).sign(rsa.privateKey) });

// jose will not make a 1024-bit key (rightly); node:crypto will.
const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
const weakJwk = { ...weak.publicKey.export({ format: "jwk" }), kid: "weak-1024", alg: "RS256", use: "sig" };
attacks.push({ name: "1024-bit RSA key (skipped at import)", code: "unknown_key", token: rawRs256({ kid: "weak-1024" }, weak.privateKey) });

writeFileSync(
  new URL("./jose-fixtures.json", import.meta.url),
  `${JSON.stringify({ issuer: ISSUER, audience: AUDIENCE, iat: IAT, exp: EXP, jwks: { keys: [...keys, otherJwk, weakJwk] }, tokens, attacks }, null, 2)}\n`,
);
console.log(`wrote ${tokens.length} tokens and ${attacks.length} attack tokens`);
