// `npm run bench`: every benchmark, one after the other.
//   1. bench/verify.mjs: per-algorithm verification cost, natively and in workerd;
//   2. bench/gateway.mjs: gateway throughput against a pass-through Worker and a jose Worker.
// Results in bench/results/.
await import("./verify.mjs");
await import("./gateway.mjs");
