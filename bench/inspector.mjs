// V8's sampling profiler on the user Worker of a workerd started with an inspector port, and a
// summary of the profile by frame: shared by bench/profile.mjs and bench/cold-profile.mjs.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const root = fileURLToPath(new URL("../", import.meta.url));

/**
 * Runs `work` with the profiler on (sampling every `intervalUs` µs), and returns its value with
 * the profile, which is also written to bench/results/`name`.cpuprofile (open it in Chrome
 * DevTools).
 */
export async function profiled(inspectorPort, { intervalUs, name }, work) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.title?.includes("core:user"));
  if (!target) throw new Error(`no user Worker among the inspector targets: ${targets.map((t) => t.title).join(", ")}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  try {
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    let nextId = 0;
    const pending = new Map();
    ws.on("message", (data) => {
      const message = JSON.parse(data);
      pending.get(message.id)?.(message);
      pending.delete(message.id);
    });
    const send = (method, params = {}) =>
      new Promise((resolve) => {
        nextId += 1;
        pending.set(nextId, resolve);
        ws.send(JSON.stringify({ id: nextId, method, params }));
      });
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: intervalUs });
    await send("Profiler.start");
    const value = await work();
    const { result } = await send("Profiler.stop");
    mkdirSync(`${root}bench/results`, { recursive: true });
    writeFileSync(`${root}bench/results/${name}.cpuprofile`, JSON.stringify(result.profile));
    return { value, profile: result.profile };
  } finally {
    ws.close();
  }
}

/**
 * Markdown tables of the heaviest frames: by self time, and by total (inclusive) time counting
 * each frame once per sample. `show(time, sampled)` writes one time (µs) as a cell.
 */
export function frameTables(profile, { self: selfRows = 25, total: totalRows = 40, show }) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const label = (n) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").pop()}`.trim();
  const self = new Map();
  const total = new Map();
  let sampled = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    sampled += dt;
    self.set(label(nodes.get(id)), (self.get(label(nodes.get(id))) ?? 0) + dt);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = label(nodes.get(at));
      if (!seen.has(key)) total.set(key, (total.get(key) ?? 0) + dt);
      seen.add(key);
    }
  });
  const top = (map, n) =>
    [...map]
      .filter(([key]) => key !== "(root)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, t]) => `| ${show(t, sampled)} | \`${key.slice(0, 120).replaceAll("|", "\\|")}\` |`);
  return {
    sampled,
    text: ["| self | frame |\n|---:|---|", ...top(self, selfRows), "\n| total | frame |\n|---:|---|", ...top(total, totalRows)].join("\n"),
  };
}
