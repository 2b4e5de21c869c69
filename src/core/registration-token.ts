// The registration token a deployment hands to whoever registers it: base64 JSON naming the
// deployment's cloud id and billing model. The stack writes it, the hub reads it.

export const BILLING_MODELS = ['PayAsYouUse', 'Capacity', 'Development'] as const;
export type BillingModel = (typeof BILLING_MODELS)[number];

export interface RegistrationTokenContent {
  CloudId: string;
  ObjectId?: string;
  BillingModel: BillingModel;
  DeploymentName?: string;
  IssueDate?: string;
  UsageReportingEnabled?: boolean;
  Version?: string;
}

export function encodeRegistrationToken(content: RegistrationTokenContent): string {
  return Buffer.from(JSON.stringify(content), 'utf8').toString('base64');
}

