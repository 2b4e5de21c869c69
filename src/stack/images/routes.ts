import type { FastifyInstance, FastifyRequest } from 'fastify';
import { readableSubscription } from '../../arm/service.ts';
import { principalOf, queryValue } from '../../http/arm.ts';
import { locationOf } from '../resources/rules.ts';
import type { ResourcesContext } from '../resources/service.ts';
import { virtualMachines } from '../resources/types/virtual-machines.ts';
import { type ImagePath, offersView, publishersView, skusView, versionsView, versionView } from './views.ts';

// The VM image catalog (`az vm image list --all`, `az vm image show`, and `az vm create`'s look-up
// of an image's latest version): Microsoft.Compute's publishers, offers, skus and versions, for any
// reader of the subscription, at the VM's api-versions and those of the CLI's latest profile.

export const IMAGE_API_VERSIONS = [
  ...virtualMachines.apiVersions,
  '2021-07-01',
  '2022-03-01',
  '2022-08-01',
  '2022-11-01',
];

type Params = { subscriptionId: string; location: string; publisher?: string; offer?: string; sku?: string };

export function registerImageRoutes(app: FastifyInstance, ctx: ResourcesContext): void {
  const PUBLISHERS = '/subscriptions/:subscriptionId/providers/Microsoft.Compute/locations/:location/publishers';
  const OFFERS = `${PUBLISHERS}/:publisher/artifacttypes/vmimage/offers`;
  const SKUS = `${OFFERS}/:offer/skus`;
  const VERSIONS = `${SKUS}/:sku/versions`;
  const config = { apiVersions: IMAGE_API_VERSIONS };
  /** The caller reads the subscription; the location is the stack's. */
  const pathOf = async (request: FastifyRequest<{ Params: Params }>): Promise<ImagePath> => {
    const sub = await readableSubscription(ctx.arm, principalOf(request), request.params.subscriptionId);
    const { publisher, offer, sku } = request.params;
    return {
      subscriptionId: sub.subscription_id,
      location: locationOf(request.params.location, ctx.arm.locations()),
      publisher,
      offer,
      sku,
    };
  };

  app.get<{ Params: Params }>(PUBLISHERS, { config }, async (request) => publishersView(await pathOf(request)));
  app.get<{ Params: Params }>(OFFERS, { config }, async (request) => offersView(await pathOf(request)));
  app.get<{ Params: Params }>(SKUS, { config }, async (request) => skusView(await pathOf(request)));
  app.get<{ Params: Params & { sku: string } }>(VERSIONS, { config }, async (request) =>
    versionsView(
      { ...(await pathOf(request)), sku: request.params.sku },
      {
        top: queryValue(request, '$top'),
        orderBy: queryValue(request, '$orderby'),
        expand: queryValue(request, '$expand'),
      },
    ),
  );
  app.get<{ Params: Params & { sku: string; version: string } }>(`${VERSIONS}/:version`, { config }, async (request) =>
    versionView({ ...(await pathOf(request)), sku: request.params.sku }, request.params.version),
  );
}
