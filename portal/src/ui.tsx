import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { messageOf } from './api.ts';

// The small pieces every page uses: navigation within the app, loading data with its error, tables,
// labelled fields, and buttons that run a request and show its error.

const BASE = import.meta.env.BASE_URL.replace(/\/$/, '');

/** The app's path, without the /portal prefix. */
export function currentPath(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  return path === '' ? '/' : path;
}

export function navigate(to: string): void {
  history.pushState(null, '', BASE + to);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function usePath(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const changed = () => setPath(currentPath());
    addEventListener('popstate', changed);
    return () => removeEventListener('popstate', changed);
  }, []);
  return path;
}

export function Link(props: { to: string; children: ComponentChildren; class?: string; current?: boolean }) {
  const onClick = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  return (
    <a href={BASE + props.to} onClick={onClick} class={props.class} aria-current={props.current ? 'page' : undefined}>
      {props.children}
    </a>
  );
}

export interface Loaded<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on reload); the latest answer wins. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}

export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <strong>{title ?? 'The request failed'}:</strong> {messageOf(error)}
    </div>
  );
}

/** The body of a panel: a loading line, the error, or the content. */
export function Loading<T>({
  state,
  children,
  what,
}: {
  state: Loaded<T>;
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  if (state.error) return <ErrorMessage error={state.error} title={`Could not load ${what}`} />;
  if (state.data === undefined)
    return (
      <p class="muted" aria-busy="true">
        Loading {what}…
      </p>
    );
  return <>{children(state.data)}</>;
}

export interface Column<T> {
  header: string;
  cell: (row: T) => ComponentChildren;
  numeric?: boolean;
}

export function Table<T>({
  rows,
  columns,
  empty,
  label,
}: {
  rows: T[];
  columns: Column<T>[];
  empty: string;
  label: string;
}) {
  if (rows.length === 0) return <p class="muted">{empty}</p>;
  return (
    <div class="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" class={c.numeric ? 'num' : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr>
              {columns.map((c) => (
                <td class={c.numeric ? 'num' : undefined} data-label={c.header}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Field(props: { label: string; hint?: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is `children` (every caller passes its input, select or textarea), which the rule cannot see
    <label class="field">
      <span class="label">{props.label}</span>
      {props.children}
      {props.hint && <span class="hint">{props.hint}</span>}
    </label>
  );
}

/** Runs one request at a time: busy while it runs, its error kept to show. */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/** A form whose submit runs a request: disabled while it runs, emptied after it, its error shown below it. */
export function ActionForm(props: {
  label: string;
  submit: string;
  busy?: string;
  errorTitle?: string;
  onSubmit: (form: FormData) => Promise<void>;
  children: ComponentChildren;
  class?: string;
}) {
  const action = useAction();
  const onSubmit = (e: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    return action.run(async () => {
      await props.onSubmit(new FormData(form));
      form.reset();
    });
  };
  return (
    <form class={props.class ?? 'form'} aria-label={props.label} onSubmit={onSubmit}>
      {props.children}
      <div class="actions">
        <button type="submit" disabled={action.busy}>
          {action.busy ? (props.busy ?? 'Working…') : props.submit}
        </button>
      </div>
      <ErrorMessage error={action.error} title={props.errorTitle} />
    </form>
  );
}

/** A button that runs one request; its error is shown beside it. */
export function ActionButton(props: {
  onClick: () => Promise<void>;
  children: ComponentChildren;
  kind?: 'secondary' | 'danger';
  label?: string;
}) {
  const action = useAction();
  return (
    <span class="action">
      <button
        type="button"
        class={props.kind}
        disabled={action.busy}
        onClick={() => action.run(props.onClick)}
        aria-label={props.label}
      >
        {props.children}
      </button>
      <ErrorMessage error={action.error} />
    </span>
  );
}

export function Panel(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="panel" aria-label={props.title}>
      <header>
        <h2>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

export const formatTime = (iso: string | null | undefined) =>
  iso
    ? new Date(iso)
        .toISOString()
        .replace('T', ' ')
        .replace(/:\d\d(\.\d+)?Z$/, ' UTC')
    : '—';

export const formatMoney = (amount: string | number, currency: string) => {
  const n = Number(amount);
  return Number.isFinite(n)
    ? new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(n)
    : `${amount} ${currency}`;
};

/** Days of usage, `2026-03-30` or `2026-03-30 to 2026-03-31`, from dates or times. */
export const formatDays = (from?: string | null, to?: string | null) =>
  [from, to]
    .map((d) => (d ?? '').slice(0, 10))
    .filter((d, i, all) => d && all.indexOf(d) === i)
    .join(' to ') || '—';

export const formatQuantity = (n: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 }).format(n);

/** A row's title: its display name, with the id beneath it. */
export const NameAndId = ({ name, id }: { name: string; id: string }) => (
  <>
    <div>{name}</div>
    <code>{id}</code>
  </>
);

export function StatusBadge({ status }: { status: string }) {
  const tone = /\b(active|enabled|succeeded|running|public|linked|ok)$/i.test(status)
    ? 'good'
    : /\b(suspended|disabled|deleted|failed|deallocated|stopped)$/i.test(status)
      ? 'bad'
      : 'neutral';
  return <span class={`badge ${tone}`}>{status}</span>;
}

/** A newly made GUID, for resources the client names (tenant subscriptions). */
export const newGuid = () => crypto.randomUUID();
