import { gunzipSync, inflateSync } from 'node:zlib';
import { Agent, type Dispatcher, request } from 'undici';

// How one part of the system (or the CLI) calls another over HTTP(S): JSON in and out, trusting the
// system's own certificate authority.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly url: string,
  ) {
    super(`${status} from ${url}: ${describeErrorBody(body)}`);
  }
}

export function describeErrorBody(body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (b.error && typeof b.error === 'object') {
      const e = b.error as Record<string, unknown>;
      return `${e.code}: ${e.message}`;
    }
    if (typeof b.error === 'string') return `${b.error}: ${b.error_description ?? ''}`;
    if (b.code) return `${b.code}: ${b.description ?? b.message ?? ''}`;
  }
  return typeof body === 'string' ? body : JSON.stringify(body);
}

/**
 * A JSON answer read without declaring its shape: the CLI and the tests read a field or two of
 * many ARM answers. Giving each answer its type is a follow-up (issue #17); until then this alias
 * is where `any` enters for them, so it is easy to find and to narrow.
 */
// biome-ignore lint/suspicious/noExplicitAny: the alias above is the deliberate escape hatch for undeclared answers.
export type UndeclaredJson = any;

export interface JsonResponse<T = UndeclaredJson> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** A body already written as JSON (its text, or its UTF-8 bytes), sent as it is (instead of `body`). */
  json?: string | Buffer;
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

export class HttpClient {
  readonly #dispatcher: Agent;
  /** `timeoutMs` bounds connecting, waiting for the answer's headers, and for its body. */
  constructor(ca?: string, timeoutMs = 60_000) {
    this.#dispatcher = new Agent({
      connect: { ...(ca ? { ca } : {}), timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  /** The answer read whole: asked for gzip or deflate, as Azure's SDKs ask, and inflated. */
  async send<T = UndeclaredJson>(method: string, url: string, opts: RequestOptions = {}): Promise<JsonResponse<T>> {
    const res = await this.open(method, url, {
      ...opts,
      headers: { 'accept-encoding': 'gzip, deflate', ...opts.headers },
    });
    const text = inflated(res.headers['content-encoding'], Buffer.from(await res.body.arrayBuffer()));
    let parsed: unknown = text;
    if (text.length > 0 && String(res.headers['content-type'] ?? '').includes('json')) parsed = JSON.parse(text);
    else if (text.length === 0) parsed = undefined;
    return { status: res.statusCode, headers: res.headers, body: parsed as T };
  }

  /** The answer with its body still to read, for streams (exports, progress lines). */
  async open(method: string, url: string, opts: RequestOptions = {}) {
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    let body: string | Buffer | undefined;
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(opts.form).toString();
    } else if (opts.json !== undefined || opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = opts.json ?? JSON.stringify(opts.body);
    }
    return request(url, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher: this.#dispatcher });
  }

  /** Like send, but a status of 400 or more throws an HttpError. */
  async call<T = UndeclaredJson>(method: string, url: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send<T>(method, url, opts);
    if (res.status >= 400) throw new HttpError(res.status, res.body, url);
    return res.body;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}

/**
 * A body as text, inflated from the encoding its answer names (gzip or deflate; otherwise as it
 * came). In the event loop, as `JSON.parse` of the same text is: through the thread pool a page
 * took a few milliseconds more.
 */
function inflated(encoding: string | string[] | undefined, body: Buffer): string {
  const name = String(encoding ?? '').toLowerCase();
  if (name === 'gzip') return gunzipSync(body, INFLATE_LIMIT).toString('utf8');
  if (name === 'deflate') return inflateSync(body, INFLATE_LIMIT).toString('utf8');
  return body.toString('utf8');
}

/** No answer inflates past this (a string this long is more than `JSON.parse` takes anyway). */
const INFLATE_LIMIT = { maxOutputLength: 512 * 1024 * 1024 };
