// `npm run bench`: every benchmark. For now the per-algorithm verification costs; the gateway
// throughput benchmark (pass-through vs jose vs gateway) arrives with the benchmarks issue.
await import("./verify.mjs");
