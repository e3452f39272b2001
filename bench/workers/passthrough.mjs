// Benchmark ceiling: a module Worker that only forwards each request to ORIGIN_URL + path + query,
// with the method, headers and body unchanged. No token is looked at. Used by bench/gateway.mjs.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(`${env.ORIGIN_URL}${url.pathname}${url.search}`, request);
  },
};
