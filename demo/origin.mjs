// Demo OrderService: answers every request with a JSON echo of what it received, and keeps the
// received requests for the tests. Used by `npm run dev` and by the end-to-end tests.
import { createServer } from "node:http";

/** Starts the echo origin on 127.0.0.1 (`port` 0 picks a free port). */
export async function startOrigin({ port = 0 } = {}) {
  const received = [];
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
      res.writeHead(200, { "content-type": "application/json", "x-demo-origin": "order-service" });
      res.end(JSON.stringify({ service: "order-service", received: record }));
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    received,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
