import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { armError } from '../core/errors.ts';
import type { SystemRights } from '../arm/service.ts';
import {
  BILLING_MODELS,
  signRegistrationToken,
  type BillingModel,
  type RegistrationSigner,
} from '../core/registration-token.ts';
import { principalOf } from '../http/arm.ts';

// The operator asks its deployment for a registration token (as Azure Stack's
// Get-AzsRegistrationToken does), then registers the deployment in the cloud with it. The token is
// signed with the deployment's registration key, so that the hub knows the deployment issued it.

export function registerRegistrationTokenRoute(
  app: FastifyInstance,
  operator: SystemRights,
  deploymentName: string,
  cloudId: () => string | undefined,
  objectId: () => string | undefined,
  signer: RegistrationSigner,
): void {
  app.post<{ Body: { billingModel?: string } | null }>(
    '/providers/Stackledger.System/registrationToken',
    {
      config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/registrationToken' },
      schema: { body: Type.Union([Type.Null(), Type.Object({ billingModel: Type.Optional(Type.String()) })]) },
    },
    async (request) => {
      const caller = principalOf(request);
      await operator.require(caller, 'Stackledger.System/registrationToken/action');
      const billingModel = (request.body?.billingModel ?? 'PayAsYouUse') as BillingModel;
      if (!BILLING_MODELS.includes(billingModel)) {
        throw armError(
          'InvalidBillingModel',
          `'${billingModel}' is not a billing model; use one of ${BILLING_MODELS.join(', ')}.`,
          'billingModel',
        );
      }
      const id = cloudId();
      const servicePrincipal = objectId();
      if (!id || !servicePrincipal)
        throw armError('DeploymentNotReady', 'The deployment has not finished its first start.');
      const registrationToken = await signRegistrationToken(
        {
          CloudId: id,
          // The registration's objectId: the identity with which the deployment reports its usage,
          // whose application publishes the certificate that verifies this token.
          ObjectId: servicePrincipal,
          BillingModel: billingModel,
          DeploymentName: deploymentName,
          IssueDate: new Date().toISOString(),
          UsageReportingEnabled: true,
          Version: '1.0',
        },
        signer,
      );
      return { registrationToken, cloudId: id, billingModel };
    },
  );
}
