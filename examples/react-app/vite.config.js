// The React example's build. No plugin: Vite compiles JSX itself (automatic runtime). In this
// repository `tokenwarden` resolves to ../../pkg through the root node_modules (`make test-react`
// links it) and React comes from the root devDependencies; in an app of your own, `npm install`
// the package.json's dependencies instead.
import { defineConfig } from 'vite';

export default defineConfig({
  resolve: { dedupe: ['react', 'react-dom'] },
  // Serve the package's .wasm and worker.js next to its JS, unbundled (dev server only).
  optimizeDeps: { exclude: ['tokenwarden'] },
  server: {
    // Dev: the reference server (cargo run -p tokenwarden-server) behind the page's own origin.
    proxy: { '/auth': 'http://127.0.0.1:8080', '/api': 'http://127.0.0.1:8080' },
  },
});
