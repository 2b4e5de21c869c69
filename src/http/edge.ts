import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ArmError, armError, armErrors } from '../core/errors.ts';

// The edge: text no handler should ever see. PostgreSQL's text cannot hold NUL, and an unpaired
// UTF-16 surrogate has no UTF-8 form, so either would fail deep in a query as a 500. Every path
// segment, query name and value, JSON string (and key) and form value is checked here, once,
// before any route runs.

/** JSON bodies nest at most this deep: ARM's own documents need far less, and a deep one costs stack. */
export const MAX_JSON_DEPTH = 32;

// Without the `u` flag a regular expression sees UTF-16 code units, which is what finds a lone half.
const UNSAFE_TEXT = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a text carries a NUL character or an unpaired surrogate. */
export const isUnsafeText = (text: string): boolean => UNSAFE_TEXT.test(text);

/** A component as the router and query parser hand it to handlers: decoded, or as it came when it does not decode. */
function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Escapes that are not UTF-8 (a surrogate's three bytes, `%%`): the parsers keep such a
    // component as it came, which is plain safe text.
    return text;
  }
}

/** Refuses a request whose path segments or query names and values carry text we never accept. */
export function checkRequestUrl(request: FastifyRequest): void {
  const url = request.raw.url ?? request.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  for (const segment of path.split('/')) {
    if (isUnsafeText(decodeComponent(segment))) throw armErrors.invalidText('path');
  }
  if (q === -1) return;
  for (const pair of url.slice(q + 1).split('&')) {
    for (const part of pair.split('=')) {
      if (isUnsafeText(decodeComponent(part.replaceAll('+', ' ')))) throw armErrors.invalidText('query');
    }
  }
}

/**
 * Whether a JSON text, decoded from UTF-8, may hold a string with unsafe text once parsed. Decoding
 * turns bytes that would be a surrogate into U+FFFD, and JSON takes no raw control character in a
 * string: a NUL or an unpaired surrogate reaches a parsed string only as a `\u` escape (a raw NUL
 * is looked for too, for a parser that would take one).
 */
export function mayHoldUnsafeText(json: string): boolean {
  return json.includes('\\u') || json.includes('\0');
}

/**
 * Refuses a parsed JSON value that nests deeper than MAX_JSON_DEPTH or carries unsafe text (its
 * strings and keys are looked at only when `text` says its source may hold some).
 */
export function checkJsonValue(value: unknown, text = true): void {
  const visit = (v: unknown, depth: number): void => {
    if (typeof v === 'string') {
      if (text && isUnsafeText(v)) throw armErrors.invalidText('body');
      return;
    }
    if (v === null || typeof v !== 'object') return;
    if (depth >= MAX_JSON_DEPTH)
      throw armErrors.invalidRequestContent(`The request content nests deeper than ${MAX_JSON_DEPTH} levels.`);
    if (Array.isArray(v)) {
      for (const item of v) visit(item, depth + 1);
      return;
    }
    for (const key of Object.keys(v)) {
      if (text && isUnsafeText(key)) throw armErrors.invalidText('body');
      visit((v as Record<string, unknown>)[key], depth + 1);
    }
  };
  visit(value, 0);
}

// What the router refuses before any context sees the request (a path that is not UTF-8, a
// segment over the length limit) still leaves in the shape of the API it was meant for: each
// context registers its shape under its prefix, on the server it belongs to.
export type ErrorShape = (error: ArmError, request: FastifyRequest) => unknown;
const shapes = new WeakMap<object, Array<{ prefix: string; render: ErrorShape }>>();

/** Registers how errors look under this context's prefix. */
export function registerErrorShape(app: FastifyInstance, render: ErrorShape): void {
  const list = shapes.get(app.server) ?? [];
  list.push({ prefix: app.prefix.toLowerCase(), render });
  list.sort((a, b) => b.prefix.length - a.prefix.length);
  shapes.set(app.server, list);
}

/** Fastify's `frameworkErrors`: the router's refusals, in the shape of the API under that path. */
export function sendFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  const refusal = tooLong
    ? armError('RequestUriTooLong', 'A segment of the request path is longer than the limit of 500 characters.')
    : armErrors.invalidRequestContent('The request path is not valid: a percent-encoded segment is not UTF-8.');
  const path = (request.raw.url ?? '').toLowerCase();
  const shape = shapes.get(request.server.server)?.find((s) => path.startsWith(s.prefix))?.render;
  void reply
    .status(refusal.status)
    .type('application/json; charset=utf-8')
    .send(shape ? shape(refusal, request) : refusal.toBody());
}
