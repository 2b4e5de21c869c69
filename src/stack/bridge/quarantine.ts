import { armError } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';
import { outboxStore, recordKeyText } from '../metering/outbox-store.ts';
import type { Cursor } from '../../core/paging.ts';
import { bridgeStore, type BridgeDb, type QuarantineEntry, type QuarantineSelection } from './store.ts';

// The operator's hand on the quarantine: its list, retry (back in the outbox, for the next
// delivery) or drop (kept out for good, with who and why). Only held records change; anything
// else in the request refuses the whole request, changing nothing.

export interface QuarantineRequest {
  ids?: number[];
  all?: boolean;
  reason?: string;
}

const MAX_REASON = 1000;

export const quarantineErrors = {
  selection: () =>
    armError(
      'InvalidQuarantineSelection',
      "Name the records with 'ids' (a non-empty list), or set 'all' to true: one of the two.",
      'ids',
    ),
  reasonRequired: () =>
    armError(
      'DropReasonRequired',
      `A drop needs a 'reason' (1 to ${MAX_REASON} characters): it is kept with the record.`,
      'reason',
    ),
  notFound: (id: number) => armError('QuarantinedRecordNotFound', `No quarantined record has the id ${id}.`, 'ids'),
  notHeld: (id: number, state: string) =>
    armError(
      'QuarantinedRecordNotHeld',
      `The quarantined record ${id} is ${state}, not held: only held records are retried or dropped.`,
      'ids',
    ),
};

/** Who acted, as kept with the record: the user's name, else the application's id, and the object id. */
export const actorName = (p: Principal) =>
  `${p.userPrincipalName ?? (p.appId ? `application ${p.appId}` : 'principal')} (${p.objectId})`;

async function selectionOf(db: BridgeDb, input: QuarantineRequest): Promise<QuarantineSelection> {
  const hasIds = Array.isArray(input.ids) && input.ids.length > 0;
  if (hasIds === (input.all === true)) throw quarantineErrors.selection();
  if (!hasIds) return { all: true };
  const ids = [...new Set(input.ids!)];
  const states = await bridgeStore.quarantineStates(db, ids);
  for (const id of ids) {
    const state = states.get(id);
    if (!state) throw quarantineErrors.notFound(id);
    if (state !== 'held') throw quarantineErrors.notHeld(id, state);
  }
  return { ids };
}

export async function retryQuarantined(db: BridgeDb, caller: Principal, input: QuarantineRequest, now: Date) {
  const selection = await selectionOf(db, input);
  return { retried: await bridgeStore.release(db, selection, actorName(caller), now) };
}

export async function dropQuarantined(db: BridgeDb, caller: Principal, input: QuarantineRequest, now: Date) {
  const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
  if (reason.length === 0 || reason.length > MAX_REASON) throw quarantineErrors.reasonRequired();
  const selection = await selectionOf(db, input);
  return { dropped: await bridgeStore.drop(db, selection, actorName(caller), reason, now) };
}

/** A page of the quarantine, each entry with its record's URI, quantity and delivery (from the outbox). */
export async function quarantinePage(db: BridgeDb, cursor: Cursor): Promise<QuarantineEntry[]> {
  const entries = await bridgeStore.listQuarantine(db, cursor);
  const records = await outboxStore.recordsAt(db, entries);
  return entries.flatMap((e) => {
    const record = records.get(recordKeyText(e));
    if (!record) return [];
    return [
      {
        id: e.id,
        hour: e.hour,
        resourceId: e.resourceId,
        resourceUri: record.resourceUri,
        meterId: e.meterId,
        revision: e.revision,
        quantity: record.quantity,
        state: e.state,
        refusal: e.refusal,
        quarantinedAt: e.quarantinedAt,
        refusedAt: e.refusedAt,
        retries: e.retries,
        retriedAt: e.retriedAt,
        retriedBy: e.retriedBy,
        deliveredAt: record.deliveredAt && new Date(record.deliveredAt).toISOString(),
        dropped: e.dropped,
      },
    ];
  });
}
