import { tokenFor, type PortalConfig, type Session } from '../session.ts';

// What the cloud service provider's pages share: customers and their subscriptions
// (csp-customers.tsx, partner center), the deployments' registrations (csp-registrations.tsx, hub
// ARM, Microsoft.AzureStack), and invoices (csp-invoices.tsx, Stackledger.Billing).

export interface PageProps {
  session: Session;
  config: PortalConfig;
}

export const AZURESTACK_API = 'api-version=2017-06-01';
export const BILLING_API = 'api-version=2026-11-01';

export const pc = (p: PageProps) => ({
  base: p.config.hub.partnerCenter,
  token: tokenFor(p.session, p.config.hub.partnerCenter),
});
export const arm = (p: PageProps) => ({ base: p.config.hub.arm, token: tokenFor(p.session, p.config.hub.arm) });
