/**
 * Where a session is kept between page loads. In a browser the default is
 * IndexedDB (npm `idb-keyval`), shared by every tab of the app's origin and
 * consistent across them: what one tab wrote before it released the refresh
 * lock, the next tab reads. (`localStorage` is not: Chromium syncs it
 * between tab processes asynchronously, so a tab could read the refresh token
 * another tab had just spent, and present it again.) Elsewhere, memory.
 * Any {@link SessionStore} works, e.g. {@link webStorageStore} on
 * `sessionStorage` to forget the session with the tab.
 */

import { createStore, del, get, set } from "idb-keyval";
import type { Session } from "./session.js";

export interface SessionStore {
  load(): Promise<Session | null>;
  save(session: Session): Promise<void>;
  clear(): Promise<void>;
}

/** The Web Storage subset {@link webStorageStore} needs. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The session in IndexedDB (database `authgate`, one key). */
export function indexedDbStore(key = "session"): SessionStore {
  const store = createStore("authgate", "sessions");
  return {
    load: async () => (await get<Session>(key, store)) ?? null,
    save: (session) => set(key, session, store),
    clear: () => del(key, store),
  };
}

/** The session in Web Storage under one key (JSON): one tab, or `sessionStorage`. */
export function webStorageStore(storage: KeyValueStorage, key = "authgate.session"): SessionStore {
  return {
    async load() {
      const text = storage.getItem(key);
      if (!text) return null;
      try {
        return JSON.parse(text) as Session;
      } catch {
        storage.removeItem(key);
        return null;
      }
    },
    async save(session) {
      storage.setItem(key, JSON.stringify(session));
    },
    async clear() {
      storage.removeItem(key);
    },
  };
}

/** The session in this process's memory (Node.js, tests, or no persistence). */
export function memoryStore(): SessionStore {
  let session: Session | null = null;
  return {
    load: async () => (session ? structuredClone(session) : null),
    save: async (next) => {
      session = structuredClone(next);
    },
    clear: async () => {
      session = null;
    },
  };
}

/** IndexedDB when this runtime has it, memory otherwise. */
export function defaultStore(): SessionStore {
  return typeof indexedDB === "object" ? indexedDbStore() : memoryStore();
}
