// `npm run bench`: placeholder until the benchmarks issue lands (pass-through vs jose vs gateway).
console.log("edge-jwt benchmarks: none yet (they arrive with the benchmarks issue)");
