import { negotiate } from '@fastify/accept-negotiator';
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify';
import { brotliCompressSync, constants, deflateSync, gzipSync } from 'node:zlib';
import { JsonText } from '../core/json-text.ts';
import { KeptBuffers } from '../core/kept-buffers.ts';

// How a JSON answer becomes bytes: written in pieces into a buffer the process keeps, then
// compressed from it for a client that asks. A large answer (a usage page's 930 kB) made as one
// string, flattened, copied into a buffer and compressed took three fresh megabytes a request, and
// on this machine a fresh page of memory costs ~18 µs to fault in: ~4 ms a megabyte, more than the
// serializing itself. Pieces of a few dozen items are made in V8's young space, whose pages stay.

/** Answers smaller than this go as they are: compressing them saves less than it costs. */
const COMPRESS_FROM_BYTES = 4096;
/** Items of the answer's long array serialized together: ~60 kB for a usage page, under V8's 128 kB large-object bound. */
const ITEMS_PER_PIECE = 64;
const ENCODINGS = ['gzip', 'deflate', 'br'];
const JSON_TYPE = /^application\/json(?:;|$)/;

/**
 * `JSON.stringify(value)`, as the pieces that make it up: for a plain object with an array of
 * more than ITEMS_PER_PIECE items, or of items written ahead (a list envelope's `value`), that
 * array a few dozen items a piece; for any other value, its whole text as one piece.
 */
export function jsonPieces(value: unknown): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [JSON.stringify(value)];
  const proto = Object.getPrototypeOf(value);
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value) return [JSON.stringify(value)];
  const entries = Object.entries(value);
  const long = entries.find(
    ([, v]) => Array.isArray(v) && (v.length > ITEMS_PER_PIECE || v[0] instanceof JsonText),
  )?.[0];
  if (long === undefined) return [JSON.stringify(value)];
  const pieces: string[] = [];
  let text = '{';
  for (const [key, v] of entries) {
    if (key !== long) {
      const json = JSON.stringify(v) as string | undefined;
      // A value JSON has no text for (undefined, a function) is left out with its key, as JSON.stringify does.
      if (json !== undefined) text += `${text === '{' ? '' : ','}${JSON.stringify(key)}:${json}`;
      continue;
    }
    pieces.push(`${text}${text === '{' ? '' : ','}${JSON.stringify(key)}:[`);
    const items = v as unknown[];
    for (let i = 0; i < items.length; i += ITEMS_PER_PIECE) {
      if (i > 0) pieces.push(',');
      pieces.push(itemsText(items.slice(i, i + ITEMS_PER_PIECE)));
    }
    text = ']';
  }
  pieces.push(`${text}}`);
  return pieces;
}

/** Array items' JSON without the brackets: items written ahead as their text. */
function itemsText(items: unknown[]): string {
  // A slice of the batch's string, not a copy of it.
  if (!(items[0] instanceof JsonText)) return JSON.stringify(items).slice(1, -1);
  let text = '';
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    // An item JSON has no text for (undefined, a function) is null in an array, as JSON.stringify writes it.
    const json = item instanceof JsonText ? item.text : ((JSON.stringify(item) as string | undefined) ?? 'null');
    text += i === 0 ? json : `,${json}`;
  }
  return text;
}

// The buffers that answers are written into, kept between requests (a few, for answers in flight
// at once: each is lent from serializing to sending). At most 4 × 16 MB stay (a usage page takes
// 1 MB); a larger answer's buffer goes when it is sent.
const buffers = new KeptBuffers(4, 16 << 20);
const lent = new WeakMap<Buffer, Buffer>();

/** The reply serializer of JSON answers: one piece as its string, several written into a lent buffer. */
function serializeJson(value: unknown): string | Buffer {
  const pieces = jsonPieces(value);
  if (pieces.length === 1) return pieces[0];
  let size = 0;
  for (const piece of pieces) size += Buffer.byteLength(piece);
  const buffer = buffers.borrow(size);
  let at = 0;
  for (const piece of pieces) at += buffer.write(piece, at);
  const bytes = buffer.subarray(0, at);
  lent.set(bytes, buffer);
  return bytes;
}

/** The encoding a request asks for, of those answers are made in (gzip first), or undefined. */
function askedEncoding(request: FastifyRequest): string | undefined {
  const header = request.headers['accept-encoding'];
  if (typeof header !== 'string') return undefined;
  return negotiate(header.toLowerCase().replace(/\bx-gzip\b/g, 'gzip'), ENCODINGS) ?? undefined;
}

function compressed(encoding: string, bytes: Buffer | string): Buffer {
  if (encoding === 'gzip') return gzipSync(bytes, { level: 3 });
  if (encoding === 'deflate') return deflateSync(bytes, { level: 3 });
  // br was slower to make here than gzip: the fastest quality, for a client that takes only br.
  return brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } });
}

/**
 * The last of every route's `onSend` hooks (after each context's own, the route audit's among
 * them, which may replace the answer): a JSON answer of COMPRESS_FROM_BYTES or more compressed for
 * a client that asks; a lent buffer's bytes sent compressed or copied, and the buffer given back.
 */
const encodeJsonAnswer: onSendHookHandler = (request, reply, payload, done) => {
  const buffer = Buffer.isBuffer(payload) ? lent.get(payload) : undefined;
  if (buffer === undefined && typeof payload !== 'string') return done(null, payload);
  const bytes = payload as Buffer | string;
  const encoding =
    bytes.length >= COMPRESS_FROM_BYTES && isUncompressedJson(reply) ? askedEncoding(request) : undefined;
  let answer: Buffer | string = bytes;
  if (encoding !== undefined) {
    answer = compressed(encoding, bytes);
    reply.header('content-encoding', encoding);
    const vary = reply.getHeader('vary');
    reply.header('vary', vary ? `${String(vary)}, Accept-Encoding` : 'Accept-Encoding');
  } else if (buffer !== undefined) {
    answer = Buffer.from(bytes as Buffer);
  }
  if (buffer !== undefined) buffers.giveBack(buffer);
  done(null, answer);
};

function isUncompressedJson(reply: FastifyReply): boolean {
  return JSON_TYPE.test(String(reply.getHeader('content-type') ?? '')) && !reply.hasHeader('content-encoding');
}

/**
 * Installs the JSON answers on a server: queued before the callers' scopes, so that the route hook
 * sees every route.
 */
export function installJsonAnswers(app: FastifyInstance): void {
  // Only objects reach preSerialization (strings and buffers are sent as they are).
  app.addHook('preSerialization', (_request, reply, payload, done) => {
    // Fastify's type says a serializer answers a string; it sends a buffer as well.
    reply.serializer(serializeJson as (payload: unknown) => string);
    done(null, payload);
  });
  app.addHook('onRoute', (route) => {
    route.onSend = [...[route.onSend ?? []].flat(), encodeJsonAnswer];
  });
}
