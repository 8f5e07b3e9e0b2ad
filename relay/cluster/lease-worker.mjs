// Starts the lease thread (lease-thread.ts): a worker does not inherit its parent's module
// hooks, so it registers tsx itself before it loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./lease-worker.ts');
