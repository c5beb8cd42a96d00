// Builds the storefront into dist/, which the router serves at `/` (same origin as /graphql).
// `npm run dev` proxies /graphql (HTTP and WebSocket) to a platform on :4000.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
  build: {
    // Hashed file names under /assets/ are what the router caches for a year.
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
  },
  server: {
    proxy: {
      "/graphql": { target: "http://127.0.0.1:4000", ws: true },
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
