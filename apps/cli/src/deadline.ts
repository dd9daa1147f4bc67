/**
 * An abort signal for a command that waits: it aborts when the caller's signal does (Ctrl-C) or
 * when `timeoutMs` passes (0 or undefined: never); `timedOut` says which. Call dispose() after.
 */
export function deadline(
  parent: AbortSignal | undefined,
  timeoutMs: number | undefined,
): { signal: AbortSignal; readonly timedOut: boolean; dispose(): void } {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  parent?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        ac.abort();
      }, timeoutMs)
    : undefined;
  return {
    signal: ac.signal,
    get timedOut() {
      return timedOut;
    },
    dispose() {
      if (timer) clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}
