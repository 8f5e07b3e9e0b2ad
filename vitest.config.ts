// Two projects: `node` (unit tests, Dawn on SwiftShader or a real GPU) and `browser` (real
// headless Debian Chromium through Playwright, WebGPU on, pages from http://localhost).
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

/** Debian's Chromium; we never download browsers. Override with CHROMIUM_PATH. */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * WebGPU in headless Chromium on a machine with no GPU: Vulkan through SwiftShader, which
 * newer Chromium makes opt-in. The background-networking flags stop Chromium from dialling
 * out on a closed network.
 */
export const CHROMIUM_WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          environment: 'node',
          // SwiftShader kernels are slow on 2 cores, and end-to-end files run beside them:
          // generous per-test limits (tests assert correctness, never time).
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: { executablePath: chromiumPath, args: CHROMIUM_WEBGPU_ARGS },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
