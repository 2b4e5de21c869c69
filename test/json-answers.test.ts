// JSON answers (src/http/json-answers.ts): the pieces an answer is written in make the same text
// as JSON.stringify, for any value, whatever holds the long array and whatever JSON leaves out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import pino from 'pino';
import { request } from 'undici';
import { JsonText } from '../src/core/json-text.ts';
import { jsonPieces } from '../src/http/json-answers.ts';
import { createServer, listen, scope } from '../src/http/server.ts';

describe('JSON answers in pieces', () => {
  it('join to JSON.stringify of any value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        assert.equal(jsonPieces(value).join(''), JSON.stringify(value));
      }),
    );
  });

  it('join to JSON.stringify of a list envelope, its long array anywhere among its keys', () => {
    let split = 0;
    const item = fc.oneof(
      fc.jsonValue(),
      fc.record({ id: fc.string(), properties: fc.dictionary(fc.string(), fc.jsonValue()) }),
      fc.constant(undefined),
      // An item written ahead (a usage aggregate's): its text is put in place.
      fc.jsonValue().map((v) => new JsonText(JSON.stringify(v))),
    );
    const envelope = fc
      .tuple(
        fc.dictionary(
          fc.string(),
          fc.oneof(
            fc.jsonValue(),
            fc.constant(undefined),
            fc.constant(() => 1),
          ),
        ),
        fc.string(),
        fc.array(item, { minLength: 0, maxLength: 300, size: 'max' }),
        fc.nat(),
      )
      .map(([others, key, items, at]) => {
        const entries: [string, unknown][] = Object.entries(others).filter(([k]) => k !== key);
        entries.splice(at % (entries.length + 1), 0, [key, items]);
        return Object.fromEntries(entries);
      });
    fc.assert(
      fc.property(envelope, (value) => {
        const pieces = jsonPieces(value);
        assert.equal(pieces.join(''), JSON.stringify(value));
        if (pieces.length > 1) split++;
      }),
      { numRuns: 300 },
    );
    assert.ok(split > 100, `${split} of 300 envelopes written in pieces`);
  });

  it('writes a usage page of a thousand items in pieces, and anything with its own toJSON whole', () => {
    const page = {
      value: Array.from({ length: 1_000 }, (_, i) => ({ id: `/x/${i}`, when: new Date(i * 3_600_000) })),
      nextLink: 'https://hub/next?continuationToken=a%22b',
    };
    const pieces = jsonPieces(page);
    assert.ok(pieces.length > 10, `${pieces.length} pieces`);
    assert.equal(pieces.join(''), JSON.stringify(page));
    const own = { value: page.value, toJSON: () => ({ replaced: true }) };
    assert.deepEqual(jsonPieces(own), ['{"replaced":true}']);
    const inherited = Object.assign(Object.create({ inheritedKey: 1 }), page);
    assert.deepEqual(jsonPieces(inherited), [JSON.stringify(inherited)]);
  });

  it('keeps each answer whole while others are written, however long its hooks wait', async () => {
    // Each large answer is written into a buffer the server lends it until it is sent: here a
    // context's onSend hook waits a while, so that other answers are written in the meantime.
    const app = createServer({ logger: pino({ level: 'silent' }) });
    await app.register(
      scope((api) => {
        api.addHook('onSend', async (_request, _reply, payload) => {
          await sleep(Math.random() * 20);
          return payload;
        });
        api.get<{ Params: { n: string } }>('/pages/:n', { config: { anonymous: true } }, async (req) => ({
          value: Array.from({ length: 500 }, (_, i) => ({ id: `/pages/${req.params.n}/items/${i}` })),
        }));
      }),
    );
    const origin = await listen(app, '127.0.0.1', 0, false);
    try {
      const read = async (n: number, gzip: boolean) => {
        const res = await request(`${origin}/pages/${n}`, { headers: gzip ? { 'accept-encoding': 'gzip' } : {} });
        const body = Buffer.from(await res.body.arrayBuffer());
        assert.equal(res.headers['content-encoding'], gzip ? 'gzip' : undefined);
        return JSON.parse((gzip ? gunzipSync(body) : body).toString()) as { value: { id: string }[] };
      };
      const answers = await Promise.all(Array.from({ length: 24 }, (_, n) => read(n, n % 2 === 0)));
      answers.forEach((answer, n) => {
        assert.equal(answer.value.length, 500);
        for (const item of answer.value) assert.ok(item.id.startsWith(`/pages/${n}/`), `answer ${n}: ${item.id}`);
      });
    } finally {
      await app.close();
    }
  });
});
