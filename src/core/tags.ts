import { Type } from 'typebox';
import { type ArmError, armError, armErrors } from './errors.ts';

// Resource tags: ARM's one rule, for every ARM resource of both roles and for the usage record a
// deployment sends to the hub, so that nothing a stack accepts is refused further down the line.
// Codes and messages are the vendor's (InvalidTags, InvalidTagName, InvalidTagNameCharacters,
// InvalidTagValueLength; InvalidRequestContent when the JSON is not an object of strings).

export type Tags = Record<string, string>;

export const TAG_LIMITS = { count: 50, nameLength: 512, valueLength: 256 } as const;

/** Characters ARM reserves in tag names, and control characters. */
const RESERVED_IN_NAME = /[<>%&\\?/\p{Cc}]/u;

/**
 * The `tags` member of a body schema. It takes any JSON so that `checkTags`, not the schema
 * validator, answers: with ARM's codes and messages, and without a validator's internals.
 */
export const TagsField = Type.Optional(
  Type.Unknown({
    description:
      'An object of at most 50 tags: names of 1 to 512 characters without <>%&\\?/ or control characters, string values of up to 256 characters.',
  }),
);

/** A name or value as an error message repeats it: a megabyte is not echoed back. */
function shown(text: string): string {
  const chars = Array.from(text);
  return chars.length <= 64 ? text : `${chars.slice(0, 64).join('')}…`;
}

/** The JSON path of a member, as ARM's deserializer writes it. */
const pathOf = (target: string, name: string) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `${target}.${name}` : `${target}['${shown(name)}']`;

function jsonToken(value: unknown): string {
  if (value === null) return 'Null';
  if (Array.isArray(value)) return 'StartArray';
  if (typeof value === 'number') return Number.isInteger(value) ? 'Integer' : 'Float';
  if (typeof value === 'boolean') return 'Boolean';
  return typeof value === 'object' ? 'StartObject' : 'String';
}

const notDeserializable = (target: string, expected: string, value: unknown) =>
  armErrors.invalidRequestContent(
    `The request content was invalid and could not be deserialized: 'Error reading ${expected}. Unexpected token: ${jsonToken(value)}. Path '${target}'.'.`,
    target,
  );

/** What is wrong with one tag, or undefined. */
function tagProblem(name: string, value: unknown, target: string): ArmError | undefined {
  if (typeof value !== 'string') return notDeserializable(pathOf(target, name), 'string', value);
  if (name.trim().length === 0) {
    return armError(
      'InvalidTagName',
      'The tag name must be non-null, non-empty and non-whitespace only. Please provide an actual value.',
      target,
    );
  }
  if (RESERVED_IN_NAME.test(name)) {
    return armError(
      'InvalidTagNameCharacters',
      `The tag names '${shown(name)}' have reserved characters '<,>,%,&,\\,?,/' or control characters.`,
      target,
    );
  }
  if (name.length > TAG_LIMITS.nameLength) {
    return armError(
      'InvalidTagName',
      `Tag key too large. Following tag name '${shown(name)}' exceeded the maximum length. Maximum allowed length for tag name - '${TAG_LIMITS.nameLength}' characters.`,
      target,
    );
  }
  if (value.length > TAG_LIMITS.valueLength) {
    return armError(
      'InvalidTagValueLength',
      `Tag value too large. Following tag value '${shown(value)}' exceeded the maximum length. Maximum allowed length for tag value - '${TAG_LIMITS.valueLength}' characters.`,
      target,
    );
  }
  return undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The tags of a request body, checked: undefined when none were given (absent or null), else the
 * tags; anything else throws ARM's 400.
 */
export function checkTags(value: unknown, target = 'tags'): Tags | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw notDeserializable(target, 'object', value);
  const entries = Object.entries(value);
  // ARM reads the JSON before it applies its limits: a value of the wrong type is answered first.
  const mistyped = entries.find(([, v]) => typeof v !== 'string');
  if (mistyped) throw notDeserializable(pathOf(target, mistyped[0]), 'string', mistyped[1]);
  if (entries.length > TAG_LIMITS.count) {
    throw armError(
      'InvalidTags',
      `Too many tags specified. Requested tag count - '${entries.length}'. Maximum number of tags allowed - '${TAG_LIMITS.count}'.`,
      target,
    );
  }
  for (const [name, v] of entries) {
    const problem = tagProblem(name, v, target);
    if (problem) throw problem;
  }
  return value as Tags;
}

/**
 * The tags a usage record may carry: those of `value` that pass the rule, at most the limit. A
 * resource's tags pass already (they were checked when written); this keeps a row stored before
 * the rule existed from making a record that the hub would refuse.
 */
export function tagsWithinRule(value: unknown): Tags | undefined {
  if (!isObject(value)) return undefined;
  const kept = Object.entries(value)
    .filter(([name, v]) => tagProblem(name, v, 'tags') === undefined)
    .slice(0, TAG_LIMITS.count);
  return kept.length === 0 ? undefined : (Object.fromEntries(kept) as Tags);
}
