// The JSON that Resource Manager reads (Json.NET's defaults): comments (`//`, `/* */`), unquoted
// property names and trailing commas. `az deployment group create` sends its template that way,
// spliced in as written (`…, template:{ /* the file */ }}`). Rewritten to strict JSON, then parsed.

const IDENTIFIER_START = /[A-Za-z_$]/;
const IDENTIFIER_PART = /[A-Za-z0-9_$]/;

/** The end (exclusive) of the double-quoted string starting at `start`. */
function stringEnd(text: string, start: number): number {
  let j = start + 1;
  while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
  return Math.min(j + 1, text.length);
}

/** Comments removed, bare property names quoted and commas just before a closing `}` or `]` dropped. */
function strictTokens(text: string): string {
  let out = '';
  let last = ''; // the last significant character written
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(text, i);
      out += text.slice(i, end);
      last = '"';
      i = end;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SyntaxError('A comment is not closed');
      out += ' ';
      i = end + 2;
    } else if (IDENTIFIER_START.test(c)) {
      let j = i + 1;
      while (j < text.length && IDENTIFIER_PART.test(text[j])) j++;
      const word = text.slice(i, j);
      let k = j;
      while (k < text.length && /\s/.test(text[k])) k++;
      out += (last === '{' || last === ',') && text[k] === ':' ? JSON.stringify(word) : word;
      last = 'w';
      i = j;
    } else {
      // A trailing comma: only white space was written after it, so it is the last one in `out`.
      if ((c === '}' || c === ']') && last === ',') {
        const comma = out.lastIndexOf(',');
        out = out.slice(0, comma) + out.slice(comma + 1);
      }
      out += c;
      if (!/\s/.test(c)) last = c;
      i++;
    }
  }
  return out;
}

/** Parses JSON as Resource Manager reads it; throws SyntaxError otherwise. */
export function parseLenientJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(strictTokens(text));
  }
}
