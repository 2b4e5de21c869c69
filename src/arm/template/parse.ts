// The ARM template expression language: a JSON string that starts with `[` and ends with `]` is an
// expression (`[[` at the start escapes a literal `[`). Inside: function calls, single-quoted string
// literals (`''` is a quote), integers, `true`/`false` as functions, property access `.name` and
// indexing `[expr]`. Pure functions; errors are TemplateErrors naming the position.

export type Expr =
  | { kind: 'literal'; value: string | number }
  | { kind: 'call'; name: string; args: Expr[]; at: number }
  | { kind: 'property'; target: Expr; name: string }
  | { kind: 'index'; target: Expr; index: Expr };

/** A template that cannot be deployed: ARM's `InvalidTemplate`, naming where in the template. */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly code = 'InvalidTemplate',
  ) {
    super(message);
  }
}

/** What a template string is: a literal (escapes removed) or an expression. */
export type TemplateString = { kind: 'text'; value: string } | { kind: 'expression'; expr: Expr; source: string };

export function isExpression(s: string): boolean {
  return s.length >= 2 && s.startsWith('[') && !s.startsWith('[[') && s.endsWith(']');
}

export function readTemplateString(s: string): TemplateString {
  if (s.startsWith('[[')) return { kind: 'text', value: s.slice(1) };
  if (!isExpression(s)) return { kind: 'text', value: s };
  return { kind: 'expression', expr: parseExpression(s.slice(1, -1)), source: s };
}

type Token =
  | { t: 'name'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'number'; v: number; at: number }
  | { t: 'punct'; v: '(' | ')' | ',' | '.' | '[' | ']'; at: number };

const fail = (message: string, at: number): never => {
  // Positions count from the expression's opening `[` (column 1), as ARM reports them.
  throw new TemplateError(`${message} (at character ${at + 2} of the expression).`);
};

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= src.length) fail('The string literal is not closed', start);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += src[i++];
      }
      out.push({ t: 'string', v: value, at: start });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^-?[0-9]+/.exec(src.slice(i))!;
      out.push({ t: 'number', v: Number(m[0]), at: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'name', v: m[0], at: i });
      i += m[0].length;
    } else if ('(),.[]'.includes(c)) {
      out.push({ t: 'punct', v: c as '(' | ')' | ',' | '.' | '[' | ']', at: i });
      i++;
    } else {
      fail(`The character '${c}' is not expected`, i);
    }
  }
  return out;
}

const MAX_NESTING = 64;

/** Parses the text between an expression's brackets. */
export function parseExpression(src: string): Expr {
  const tokens = tokenize(src);
  let p = 0;
  const peek = () => tokens[p];
  const end = src.length;
  const expectPunct = (v: string) => {
    const tok = tokens[p];
    if (tok?.t !== 'punct' || tok.v !== v) fail(`'${v}' was expected`, tok?.at ?? end);
    p++;
  };

  let depth = 0;
  const primary = (): Expr => {
    const tok = tokens[p];
    if (!tok) return fail('An expression was expected', end);
    if (tok.t === 'string' || tok.t === 'number') {
      p++;
      return { kind: 'literal', value: tok.v };
    }
    if (tok.t !== 'name') return fail(`'${tok.v}' is not expected here`, tok.at);
    p++;
    // A user-defined function's namespace: `ns.fn(...)`.
    let name = tok.v;
    const next = peek();
    if (next?.t === 'punct' && next.v === '.' && tokens[p + 1]?.t === 'name' && tokens[p + 2]?.v === '(') {
      name = `${name}.${(tokens[p + 1] as { v: string }).v}`;
      p += 2;
    }
    expectPunct('(');
    const args: Expr[] = [];
    if (!(peek()?.t === 'punct' && peek()?.v === ')')) {
      for (;;) {
        args.push(expression());
        const sep = peek();
        if (sep?.t === 'punct' && sep.v === ',') {
          p++;
          continue;
        }
        break;
      }
    }
    expectPunct(')');
    return { kind: 'call', name, args, at: tok.at };
  };

  const expression = (): Expr => {
    // Deep nesting would exhaust the stack; no real template comes near.
    if (++depth > MAX_NESTING) fail(`The expression is nested deeper than ${MAX_NESTING} levels`, peek()?.at ?? end);
    try {
      return postfix(primary());
    } finally {
      depth--;
    }
  };

  const postfix = (start: Expr): Expr => {
    let e = start;
    for (;;) {
      const tok = peek();
      if (tok?.t === 'punct' && tok.v === '.') {
        p++;
        const name = tokens[p];
        if (name?.t !== 'name') return fail('A property name was expected', name?.at ?? end);
        p++;
        e = { kind: 'property', target: e, name: name.v };
      } else if (tok?.t === 'punct' && tok.v === '[') {
        p++;
        const index = expression();
        expectPunct(']');
        e = { kind: 'index', target: e, index };
      } else {
        return e;
      }
    }
  };

  const result = expression();
  if (p < tokens.length) fail(`'${String(tokens[p].v)}' is not expected here`, tokens[p].at);
  if (result.kind === 'literal') fail('The expression must call a function', 0);
  return result;
}

/** Every function an expression calls, with where (for refusing unknown ones before anything runs). */
export function callsIn(e: Expr): { name: string; at: number }[] {
  switch (e.kind) {
    case 'literal':
      return [];
    case 'call':
      return [{ name: e.name, at: e.at }, ...e.args.flatMap(callsIn)];
    case 'property':
      return callsIn(e.target);
    case 'index':
      return [...callsIn(e.target), ...callsIn(e.index)];
  }
}
