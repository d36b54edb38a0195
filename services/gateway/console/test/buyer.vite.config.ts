import { defineConfig } from "vite";

// The buyer helper of the browser test as one IIFE script (window.tuanBuyer).
export default defineConfig({
  build: {
    outDir: "test-output/buyer",
    emptyOutDir: true,
    lib: { entry: "test/buyer.ts", formats: ["iife"], name: "tuanBuyer", fileName: () => "buyer.js" },
  },
});
