import { vi } from 'vitest';

/** One recorded call of the stubbed fetch. */
export interface RecordedCall {
  url: string;
  method: string;
  headers: Headers;
  body: BodyInit | null | undefined;
}

export type Responder = (call: RecordedCall) => Response | Promise<Response>;

export function json(data: unknown, status = 200, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(data), {
    ...init,
    status,
    headers: { 'Content-Type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
  });
}

export function detail(status: number, message: unknown): Response {
  return json({ detail: message }, status);
}

/**
 * Replaces global fetch with a stub that records every call and answers through `responder`.
 * Returns the list of calls (it fills up as requests are made).
 */
export function stubFetch(responder: Responder): RecordedCall[] {
  const calls: RecordedCall[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    const call: RecordedCall = {
      url,
      method: (init.method ?? 'GET').toUpperCase(),
      headers: new Headers(init.headers),
      body: init.body,
    };
    calls.push(call);
    return responder(call);
  });
  vi.stubGlobal('fetch', fn);
  return calls;
}

/** A responder that routes on "METHOD path". Unknown routes answer 404 with a detail. */
export function routes(table: Record<string, Responder | Response | (() => Response)>): Responder {
  return (call) => {
    const key = `${call.method} ${call.url}`;
    const handler = table[key];
    if (!handler) return detail(404, `no stub for ${key}`);
    if (handler instanceof Response) return handler.clone();
    return (handler as Responder)(call);
  };
}
