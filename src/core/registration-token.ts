import { X509Certificate } from 'node:crypto';
import { CompactSign, decodeJwt, decodeProtectedHeader, type CryptoKey, type KeyObject } from 'jose';

// The registration token a deployment hands to whoever registers it: a compact JWS that the
// deployment signs with its registration key, whose certificate it published as a key credential of
// its application (kid: the certificate's thumbprint). The payload names the deployment's cloud id,
// its service principal and its billing model. The stack writes it, the hub verifies it.

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

/** The algorithms a registration token may be signed with (the stack's key is ES256). */
export const REGISTRATION_TOKEN_ALGORITHMS = ['ES256', 'RS256'];

export interface RegistrationSigner {
  alg: 'ES256' | 'RS256';
  /** The custom key identifier (thumbprint) of the published certificate. */
  kid: string;
  privateKey: CryptoKey | KeyObject;
}

export function signRegistrationToken(content: RegistrationTokenContent, signer: RegistrationSigner): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(content)))
    .setProtectedHeader({ alg: signer.alg, typ: 'JWT', kid: signer.kid })
    .sign(signer.privateKey);
}

/** A token's header and payload, read without verifying anything; undefined when it is not a compact JWS. */
export function readRegistrationToken(
  token: string,
): { header: { alg?: string; kid?: string }; content: Record<string, unknown> } | undefined {
  try {
    return { header: decodeProtectedHeader(token), content: decodeJwt(token) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** A certificate's SHA-1 thumbprint in upper-case hex: the key credential's custom key identifier, the token's kid. */
export function certificateThumbprint(der: Buffer): string {
  return new X509Certificate(der).fingerprint.replaceAll(':', '').toUpperCase();
}
