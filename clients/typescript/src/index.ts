/**
 * `@authgate/client`: authgate from a browser or Node.js without any AWS
 * package. {@link AuthgateClient} is the session layer (sign-in with typed
 * challenges, refresh single-flight across tabs, passkeys, the code flow
 * with PKCE, sign-out); its `api` member is the typed client generated from
 * authgate's OpenAPI document, for every other route.
 */

export { AuthgateClient } from "./session.js";
export type {
  AuthgateOptions,
  Challenge,
  Passkey,
  Session,
  SessionSource,
  SignInResult,
  SignUpResponse,
  Subject,
  UserView,
} from "./session.js";
export { AuthgateError, type ClientErrorCode } from "./errors.js";
export { defaultStore, indexedDbStore, memoryStore, webStorageStore, type KeyValueStorage, type SessionStore } from "./store.js";
export { browserTabs, defaultTabs, processTabs, type TabCoordinator, type TabMessage } from "./tabs.js";
export type { components, paths } from "./schema.js";
