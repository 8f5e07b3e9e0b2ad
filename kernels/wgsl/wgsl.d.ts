// WGSL sources are imported as text: Vite handles `?raw` in the browser and in Vitest,
// kernels/node/raw-loader.mjs does the same for the Node commands.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
