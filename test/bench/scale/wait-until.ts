// Polls a condition of the bench's simulated volunteers until it holds or time runs out: the
// volunteers run in this process, so a short interval costs nothing but a look at memory.
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const started = Date.now();
  for (;;) {
    if (await condition()) return true;
    if (Date.now() - started > timeoutMs) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
