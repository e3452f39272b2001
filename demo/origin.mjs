// Demo OrderService: answers every request with a JSON echo of what it received, and keeps the
// received requests for the tests. Used by `npm run dev` and by the end-to-end tests.
// `?status=NNN` makes it answer with that status; `setDelay(ms)` makes it slow; `?drip=MS` sends
// the headers and half of the body at once and the rest MS milliseconds later.
import { createServer } from "node:http";

/**
 * Starts the echo origin on 127.0.0.1 (`port` 0 picks a free port). `keepAliveTimeout` (ms)
 * replaces Node's 5 s for idle connections (the benchmarks keep them for longer).
 */
export async function startOrigin({ port = 0, keepAliveTimeout } = {}) {
  const received = [];
  let delay = 0;
  const timers = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const record = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        bodyBytes: body.length,
        body: body.toString("utf8"),
      };
      received.push(record);
      const query = new URL(req.url, "http://localhost").searchParams;
      const status = Number(query.get("status") ?? 200);
      const drip = Number(query.get("drip") ?? 0);
      const answer = () => {
        res.writeHead(status, { "content-type": "application/json", "x-demo-origin": "order-service" });
        const text = JSON.stringify({ service: "order-service", received: { ...record, body: record.body.slice(0, 4096) } });
        if (drip <= 0) {
          res.end(text);
          return;
        }
        res.write(text.slice(0, text.length >> 1));
        const timer = setTimeout(() => {
          timers.delete(timer);
          res.end(text.slice(text.length >> 1));
        }, drip);
        timers.add(timer);
      };
      if (delay > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, delay);
        timers.add(timer);
      } else {
        answer();
      }
    });
  });
  if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    received,
    setDelay(ms) {
      delay = ms;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
