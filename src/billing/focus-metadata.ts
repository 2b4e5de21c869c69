import { createHash } from 'node:crypto';
import { FOCUS_COLUMN_TYPES, FOCUS_VERSION } from './focus-columns.ts';

/** The day this schema (FOCUS 1.2's columns as listed here) was made: a new list needs a new day. */
const FOCUS_SCHEMA_CREATED = '2026-11-30T00:00:00Z';

/**
 * FOCUS's metadata of the export (the specification's data generator and schema objects): the
 * schema's id is a GUID derived from the version and its columns, so it changes exactly when they do.
 */
export function focusMetadata() {
  const ColumnDefinition = Object.entries(FOCUS_COLUMN_TYPES).map(([ColumnName, DataType]) => ({
    ColumnName,
    DataType,
    ...(DataType === 'STRING' ? { StringEncoding: 'UTF-8' } : {}),
  }));
  const hash = createHash('sha256').update(JSON.stringify({ FOCUS_VERSION, ColumnDefinition })).digest('hex');
  const SchemaId = [
    hash.slice(0, 8),
    hash.slice(8, 12),
    hash.slice(12, 16),
    hash.slice(16, 20),
    hash.slice(20, 32),
  ].join('-');
  return {
    DataGenerator: { DataGenerator: 'Stackledger' },
    Schema: { SchemaId, FocusVersion: FOCUS_VERSION, CreationDate: FOCUS_SCHEMA_CREATED, ColumnDefinition },
  };
}
