// JSON schemas of Microsoft.AzureStack 2017-06-01 responses, written from the public specification
// specification/azurestack/resource-manager/Microsoft.AzureStack/stable/2017-06-01/
// (AzureStack.json: Resource, TrackedResource, ErrorResponse; Registration.json: Registration,
// RegistrationList, ActivationKeyResult; CustomerSubscription.json: CustomerSubscription,
// CustomerSubscriptionList). The spec marks no property required; id, name and type are always
// present on a resource we return, so they are required here.
import { Ajv } from 'ajv';

const resource = {
  id: { type: 'string', minLength: 1 },
  name: { type: 'string', minLength: 1 },
  type: { type: 'string', minLength: 1 },
  etag: { type: 'string' },
};

export const Registration = {
  type: 'object',
  required: ['id', 'name', 'type', 'location', 'properties'],
  properties: {
    ...resource,
    location: { type: 'string', enum: ['global'] },
    tags: { type: 'object', additionalProperties: { type: 'string' } },
    properties: {
      type: 'object',
      properties: { objectId: { type: 'string' }, cloudId: { type: 'string' }, billingModel: { type: 'string' } },
    },
  },
};

export const CustomerSubscription = {
  type: 'object',
  required: ['id', 'name', 'type', 'properties'],
  properties: { ...resource, properties: { type: 'object', properties: { tenantId: { type: 'string' } } } },
};

const list = (item: object) => ({
  type: 'object',
  required: ['value'],
  properties: { nextLink: { type: 'string' }, value: { type: 'array', items: item } },
});

export const RegistrationList = list(Registration);
export const CustomerSubscriptionList = list(CustomerSubscription);
export const ActivationKeyResult = {
  type: 'object',
  required: ['activationKey'],
  properties: { activationKey: { type: 'string' } },
};
export const ErrorResponse = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, target: { type: 'string' } },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: false });

/** Throws with ajv's findings when `value` does not match `schema`. */
export function assertSchema(schema: object, value: unknown, what: string): void {
  const validate = ajv.compile(schema);
  if (!validate(value))
    throw new Error(
      `${what} does not match the specification: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`,
    );
}
