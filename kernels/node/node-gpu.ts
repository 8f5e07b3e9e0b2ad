// WebGPU for Node through Dawn (the `webgpu` package). On a machine with no GPU driver we
// fall back to Chromium's SwiftShader Vulkan ICD, which is the same CPU implementation the
// browser tests use, so Node and browser runs compare like for like.
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { GpuError } from '../gpu/errors.ts';

/** Where Debian, Ubuntu and Google builds put Chromium's SwiftShader ICD manifest. */
const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

const INSTALL_HINT =
  'install a GPU driver with Vulkan support, or on Debian/Ubuntu `apt-get install -y libvulkan1 chromium` ' +
  '(Chromium brings SwiftShader, a CPU Vulkan driver)';

let installed = false;

/**
 * Every GPU object handed out stays referenced for the life of the process: when V8 collects
 * Dawn's GPU while its devices are alive, dawn.node aborts the process (SIGABRT/SIGSEGV).
 */
const alive: GPU[] = [];

/** Dawn's GPU* classes and constants (GPUBufferUsage, ...) must be globals, as in a browser. */
function installGlobals(): void {
  if (installed) return;
  Object.assign(globalThis, globals);
  installed = true;
}

async function hasAdapter(gpu: GPU): Promise<boolean> {
  return (await gpu.requestAdapter({ powerPreference: 'high-performance' })) !== null;
}

/**
 * Returns a `GPU` whose requestAdapter() yields an adapter: the system's own driver when it
 * has one, else SwiftShader. Throws ERR_NO_ADAPTER with an install hint otherwise.
 */
export async function nodeGpu(): Promise<GPU> {
  installGlobals();
  const system = create([]);
  alive.push(system);
  if (await hasAdapter(system)) return system;
  if (!process.env.VK_ICD_FILENAMES) {
    const icd = SWIFTSHADER_ICDS.find((path) => existsSync(path));
    if (icd) {
      // The Vulkan loader reads this variable each time Dawn creates an instance.
      process.env.VK_ICD_FILENAMES = icd;
      const swiftshader = create([]);
      alive.push(swiftshader);
      if (await hasAdapter(swiftshader)) return swiftshader;
    }
  }
  throw new GpuError('ERR_NO_ADAPTER', `no WebGPU adapter in Node: ${INSTALL_HINT}`);
}
