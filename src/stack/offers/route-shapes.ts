import { Type } from 'typebox';

// What the routes of the catalogue and of tenant subscriptions share: Microsoft.Subscriptions'
// api-version, the admin provider's route config, a plan's or offer's path and texts.

export const SUBSCRIPTIONS_API = ['2015-11-01'];

/** A route of Microsoft.Subscriptions.Admin on the admin endpoint. */
export const adminConfig = (type: string) => ({ apiVersions: SUBSCRIPTIONS_API, resourceType: type });

/** A plan's or offer's path parameters. */
export type CatalogParams = { subscriptionId: string; resourceGroupName: string; name: string };

export const catalogRef = (p: CatalogParams) => ({
  subscriptionId: p.subscriptionId,
  resourceGroup: p.resourceGroupName,
  name: p.name,
});

/** The properties plans and offers share. */
export const CATALOG_TEXT = {
  name: Type.Optional(Type.String()),
  displayName: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  externalReferenceId: Type.Optional(Type.String()),
};
