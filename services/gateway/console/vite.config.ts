import { defineConfig } from "vite";

// Served by the gateway at /console/ (relative asset URLs work there and under `vite dev`).
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", assetsInlineLimit: 0 },
});
