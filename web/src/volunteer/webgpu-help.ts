// What the page says when this browser cannot train: in plain words, which browsers can, and
// where to check. The engine's own error (ERR_NO_ADAPTER: "WebGPU is present but offered no
// adapter") means nothing to most volunteers (issue 17).
import { $ } from './page-view.ts';

/** A page that reports what this browser's WebGPU offers, adapter and limits included. */
export const WEBGPU_REPORT_URL = 'https://webgpureport.org';

/** Why this browser cannot train: it has no WebGPU at all, or WebGPU found no usable GPU. */
export type NoWebGpu = 'no-api' | 'no-adapter';

const WHY: Record<NoWebGpu, string> = {
  'no-api': 'This browser cannot train here: it does not offer WebGPU, the way web pages use a GPU.',
  'no-adapter':
    'This browser offers WebGPU but found no GPU it may use, so it cannot train here. Often hardware acceleration is off in the browser settings, the GPU is blocked, or (on Linux) WebGPU is not switched on.',
};

const WORKS =
  'WebGPU works in Chrome or Edge 113 and newer on Windows, macOS and ChromeOS; in Chrome on Linux once the “Unsafe WebGPU” flag (chrome://flags, or starting it with --enable-unsafe-webgpu) and Vulkan are on; in Safari 26 and newer; and in Firefox 141 and newer on Windows.';

/** Shows why this browser cannot train, what would, and a link to check, as the page's status. */
export function showNoWebGpu(why: NoWebGpu, detail?: string): void {
  const status = $('status');
  status.classList.add('error');
  status.dataset.noWebgpu = why;
  const link = document.createElement('a');
  link.href = WEBGPU_REPORT_URL;
  link.target = '_blank';
  link.rel = 'noopener';
  link.textContent = 'webgpureport.org';
  // The engine's words stay for whoever debugs, out of the way in the title.
  if (detail) status.title = detail;
  status.replaceChildren(`${WHY[why]} ${WORKS} To see what your browser offers, open `, link, '.');
}
