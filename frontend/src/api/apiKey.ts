/**
 * The API key. When `BACKUPD_API_KEY` is set on the server, every request must carry
 * `X-API-Key`. The key lives in sessionStorage (for the tab). On a 401 the client asks the page,
 * through the handler given to `setApiKeyPrompt`, for a key: once, however many requests were
 * waiting.
 */

export const API_KEY_STORAGE_KEY = 'backupd.apiKey';
export const API_KEY_HEADER = 'X-API-Key';

export function getApiKey(): string | null {
  try {
    return globalThis.sessionStorage?.getItem(API_KEY_STORAGE_KEY) || null;
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  try {
    if (key) globalThis.sessionStorage?.setItem(API_KEY_STORAGE_KEY, key);
    else globalThis.sessionStorage?.removeItem(API_KEY_STORAGE_KEY);
  } catch {
    // Storage may be unavailable (private mode); the key then lasts until reload only.
  }
}

/** Why the key is asked for: none was stored, or the stored/typed one was refused. */
export type ApiKeyPromptReason = 'required' | 'rejected';
/** Resolves to the key the user typed, or null when they cancelled. */
export type ApiKeyPrompt = (reason: ApiKeyPromptReason) => Promise<string | null>;

let apiKeyPrompt: ApiKeyPrompt | null = null;
let pendingPrompt: Promise<string | null> | null = null;

/** Registers the page's "enter your API key" form; pass null to unregister. */
export function setApiKeyPrompt(prompt: ApiKeyPrompt | null): void {
  apiKeyPrompt = prompt;
  pendingPrompt = null;
}

/** True when a page has registered its form (tests and early requests have none). */
export function canAskForApiKey(): boolean {
  return apiKeyPrompt !== null;
}

/** One prompt at a time: concurrent 401s share the same answer. */
export function askForApiKey(reason: ApiKeyPromptReason): Promise<string | null> {
  if (!apiKeyPrompt) return Promise.resolve(null);
  if (!pendingPrompt) {
    pendingPrompt = apiKeyPrompt(reason).finally(() => {
      pendingPrompt = null;
    });
  }
  return pendingPrompt;
}
