// Calls to the hub's and the stacks' APIs from the browser, and one readable error for the three
// error shapes they answer with: ARM and the directory API ({"error":{"code","message"}}), the
// partner center ({"code","description"}) and the token endpoint ({"error","error_description"}).

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

export function errorOf(status: number, statusText: string, body: unknown): ApiError {
  if (body && typeof body === 'object') {
    const b = body as { error?: unknown; error_description?: unknown; code?: unknown; description?: unknown };
    if (b.error && typeof b.error === 'object') {
      const e = b.error as { code?: unknown; message?: unknown };
      return new ApiError(String(e.message ?? e.code), status, e.code === undefined ? undefined : String(e.code));
    }
    if (typeof b.error === 'string') {
      // The token endpoint's description ends with trace lines; the first line is the message.
      const description = String(b.error_description ?? b.error).split(/\r?\n/)[0];
      return new ApiError(description, status, b.error);
    }
    if (b.code && b.description) return new ApiError(String(b.description), status, String(b.code));
  }
  if (typeof body === 'string' && body.trim()) return new ApiError(body.trim().slice(0, 300), status);
  return new ApiError(`The server answered ${status} ${statusText}.`.replace(' .', '.'), status);
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

/** One request; the parsed JSON body (or null), or an ApiError with the server's own message. */
export async function api<T = unknown>(method: string, url: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(opts.form).toString();
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch {
    // The browser hides why (refused, certificate, CORS); say where it failed.
    throw new ApiError(
      `Could not reach ${new URL(url, location.href).origin}: the server did not answer or refused this page's origin.`,
      0,
      'NetworkError',
    );
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) throw errorOf(response.status, response.statusText, parsed);
  return parsed as T;
}

/** Every item of an ARM collection, following `nextLink`. */
export async function armList<T = unknown>(url: string, token: string): Promise<T[]> {
  const items: T[] = [];
  let next: string | undefined = url;
  while (next) {
    const page: { value?: T[]; nextLink?: string } = await api('GET', next, { token });
    items.push(...(page.value ?? []));
    next = page.nextLink ?? undefined;
  }
  return items;
}

/** Every item of a partner center collection, following `links.next` and its continuation header. */
export async function partnerList<T = unknown>(base: string, path: string, token: string): Promise<T[]> {
  const items: T[] = [];
  let next: { uri: string; headers?: Record<string, string> } | undefined = { uri: path };
  while (next) {
    const page: { items?: T[]; links?: { next?: { uri: string; headers?: { key: string; value: string }[] } } } =
      await api('GET', base + next.uri, { token, headers: next.headers });
    items.push(...(page.items ?? []));
    const link = page.links?.next;
    next = link
      ? {
          uri: link.uri,
          headers: Object.fromEntries(
            (link.headers ?? []).map((h: { key: string; value: string }) => [h.key, h.value]),
          ),
        }
      : undefined;
  }
  return items;
}

export const messageOf = (e: unknown): string =>
  e instanceof ApiError ? e.message + (e.code ? ` (${e.code})` : '') : e instanceof Error ? e.message : String(e);
