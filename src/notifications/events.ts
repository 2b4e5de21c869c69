// The event types webhooks can ask for: a module of its own, free of Node's modules, so that the
// portal's pages import the same list the hub checks.

export const EVENT_TYPES = [
  'invoice.finalized',
  'invoice.draft_created',
  'creditnote.created',
  'budget.threshold_crossed',
  'usage.quarantined',
  'registration.changed',
  'subscription.status_changed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (s: string): s is EventType => (EVENT_TYPES as readonly string[]).includes(s);
