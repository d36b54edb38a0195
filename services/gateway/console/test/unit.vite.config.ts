import { defineConfig } from "vite";

// The unit tests of the page's checks (src/validate.ts, src/account.ts), each as one ES module
// for `node --test`.
export default defineConfig({
  build: {
    outDir: "test-output/unit",
    emptyOutDir: true,
    target: "node20",
    minify: false,
    lib: {
      entry: { validate: "test/validate.test.ts", account: "test/account.test.ts" },
      formats: ["es"],
      fileName: (_format, name) => `${name}.test.mjs`,
    },
    rollupOptions: { external: [/^node:/] },
  },
});
