import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// Served by prescale-aggregator under /ui/ (cmake/console.cmake embeds dist/).
// No inline script or style anywhere: the aggregator's Content-Security-Policy
// allows scripts and styles from the same origin only.
export default defineConfig({
  base: '/ui/',
  plugins: [vue()],
  build: {
    target: 'es2020',
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    chunkSizeWarningLimit: 400,
  },
});
