// CSV as the exports write it, the way PostgreSQL's COPY … (FORMAT csv) does.

/** A value as a CSV field: quoted when it holds a comma, a quote or a line break (as COPY's CSV does); absent when null or ''. */
export function csvField(value: string | null): string {
  if (value === null) return '';
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
const NEEDS_QUOTES = /[",\n\r]/;
