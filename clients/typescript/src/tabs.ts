/**
 * One refresh at a time across every tab of an origin, and the news of it
 * to the others. A refresh token rotates on use; two tabs presenting the
 * same one (with `AUTHGATE_REFRESH_REUSE_INTERVAL=0`, or after the interval)
 * look like a stolen token and the server revokes the whole family, signing
 * both out. So a refresh runs under a Web Lock (`navigator.locks`), and the
 * tab that gets the lock second finds the rotated session in the shared
 * store and adopts it instead of presenting the old token. A
 * `BroadcastChannel` tells the other tabs to reload the store (new tokens,
 * or signed out). Where Web Locks are missing (Node.js), the lock is one
 * per process.
 */

/** What tabs tell each other. */
export type TabMessage = { type: "session" } | { type: "signedOut" };

export interface TabCoordinator {
  /** Runs `task` while no other tab (or client in this process) runs one under `name`. */
  exclusive<T>(name: string, task: () => Promise<T>): Promise<T>;
  announce(message: TabMessage): void;
  /** Calls `listener` for every message another tab announces. */
  listen(listener: (message: TabMessage) => void): () => void;
  close(): void;
}

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

const processLocks = new Map<string, Promise<unknown>>();

/** A lock within this JavaScript realm: tasks under one name run in turn. */
async function processExclusive<T>(name: string, task: () => Promise<T>): Promise<T> {
  const previous = processLocks.get(name) ?? Promise.resolve();
  const run = previous.then(task, task);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  processLocks.set(name, settled);
  try {
    return await run;
  } finally {
    if (processLocks.get(name) === settled) processLocks.delete(name);
  }
}

/** Web Locks and a BroadcastChannel where the runtime has them. */
export function browserTabs(channelName = "authgate"): TabCoordinator {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  const channel =
    typeof BroadcastChannel === "function" ? new BroadcastChannel(channelName) : undefined;
  const listeners = new Set<(message: TabMessage) => void>();
  channel?.addEventListener("message", (event: MessageEvent) => {
    const message = event.data as TabMessage;
    if (message && (message.type === "session" || message.type === "signedOut")) {
      for (const listener of listeners) listener(message);
    }
  });
  return {
    exclusive: (name, task) => (locks ? locks.request(name, task) : processExclusive(name, task)),
    announce: (message) => channel?.postMessage(message),
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => channel?.close(),
  };
}

/** Tasks under one name run in turn within this process; no messages (Node.js). */
export function processTabs(): TabCoordinator {
  return {
    exclusive: processExclusive,
    announce: () => undefined,
    listen: () => () => undefined,
    close: () => undefined,
  };
}

/** Web Locks and a BroadcastChannel in a browser, the process lock elsewhere. */
export function defaultTabs(): TabCoordinator {
  return typeof (globalThis as { document?: unknown }).document === "object" ? browserTabs() : processTabs();
}
