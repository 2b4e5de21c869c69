// The edge's text check on JSON bodies (src/http/edge.ts): a body whose text cannot hold a NUL or
// an unpaired surrogate skips looking at every string; any body that can is looked at.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonText } from '../src/http/arm.ts';
import { checkJsonValue, isUnsafeText, mayHoldUnsafeText } from '../src/http/edge.ts';

/** Any text, NULs and lone surrogate halves included. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\0', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\\', 'u', '"'),
    fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
  ),
  maxLength: 12,
});

describe('the edge: unsafe text in JSON bodies', () => {
  it('says a body may hold unsafe text whenever a string or key of it, parsed, holds some', () => {
    let unsafeBodies = 0;
    fc.assert(
      fc.property(anyText, anyText, (key, value) => {
        // What the server reads: the JSON's UTF-8 bytes, decoded as the body parser does.
        const text = jsonText(Buffer.from(JSON.stringify({ [key]: value, items: [value] })));
        const parsed = JSON.parse(text) as Record<string, unknown>;
        const unsafe = Object.entries(parsed).some(
          ([k, v]) => isUnsafeText(k) || (typeof v === 'string' && isUnsafeText(v)),
        );
        if (unsafe) unsafeBodies++;
        if (unsafe) assert.ok(mayHoldUnsafeText(text), text);
        // And the whole check refuses it with the text looked at, as the parser's caller does.
        if (unsafe) assert.throws(() => checkJsonValue(parsed, mayHoldUnsafeText(text)), /NUL character/);
        else checkJsonValue(parsed, mayHoldUnsafeText(text));
      }),
      { numRuns: 2_000 },
    );
    assert.ok(unsafeBodies > 200, `${unsafeBodies} of 2,000 bodies held unsafe text`);
  });

  it('reads a body as its UTF-8 text, ASCII or not, small or over a megabyte', () => {
    fc.assert(
      fc.property(anyText, fc.constantFrom(0, 1, 1 << 20), (text, padding) => {
        const bytes = Buffer.from(JSON.stringify({ text, padding: 'p'.repeat(padding) }));
        assert.equal(jsonText(bytes), bytes.toString('utf8'));
      }),
      { numRuns: 300 },
    );
  });

  it('still refuses a body that nests too deep when its text needs no look', () => {
    const deep = '['.repeat(40) + ']'.repeat(40);
    assert.equal(mayHoldUnsafeText(deep), false);
    assert.throws(() => checkJsonValue(JSON.parse(deep), false), /nests deeper than 32/);
  });
});
