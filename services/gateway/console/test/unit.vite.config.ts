import { defineConfig } from "vite";

// The unit tests of src/validate.ts as one ES module for `node --test`.
export default defineConfig({
  build: {
    outDir: "test-output/unit",
    emptyOutDir: true,
    target: "node20",
    minify: false,
    lib: { entry: "test/validate.test.ts", formats: ["es"], fileName: () => "validate.test.mjs" },
    rollupOptions: { external: [/^node:/] },
  },
});
