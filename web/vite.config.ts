// The pages: the volunteer page (index.html) and the leaderboard. Built into dist/web, which
// the relay serves (relay/app.ts); `npm start` builds it when it is missing or stale.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    rolldownOptions: {
      input: {
        index: `${import.meta.dirname}/index.html`,
        leaderboard: `${import.meta.dirname}/leaderboard.html`,
      },
    },
  },
  worker: { format: 'es' },
  server: { fs: { allow: ['..'] } },
});
