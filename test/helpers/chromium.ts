// Debian's Chromium with WebGPU on SwiftShader (vitest.config.ts has the flags), for tests that
// drive pages through Playwright; CHROMIUM_PATH points elsewhere when it is installed elsewhere.
import { type Browser, chromium } from 'playwright';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
}
