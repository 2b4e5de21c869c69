import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { armErrors } from '../core/errors.ts';
import type { SystemRights } from '../arm/service.ts';
import { BILLING_MODELS, encodeRegistrationToken, type BillingModel } from '../core/registration-token.ts';
import { principalOf } from '../http/arm.ts';

// The operator asks its deployment for a registration token (as Azure Stack's
// Get-AzsRegistrationToken does), then registers the deployment in the cloud with it.

export function registerRegistrationTokenRoute(
  app: FastifyInstance,
  operator: SystemRights,
  deploymentName: string,
  cloudId: () => string | undefined,
  objectId: () => string | undefined,
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
        throw armErrors.badRequest('InvalidBillingModel', `'${billingModel}' is not a billing model; use one of ${BILLING_MODELS.join(', ')}.`, 'billingModel');
      }
      const id = cloudId();
      if (!id) throw armErrors.conflict('DeploymentNotReady', 'The deployment has not finished its first start.');
      const registrationToken = encodeRegistrationToken({
        CloudId: id,
        // The registration's objectId: the identity with which the deployment reports its usage.
        ObjectId: objectId(),
        BillingModel: billingModel,
        DeploymentName: deploymentName,
        IssueDate: new Date().toISOString(),
        UsageReportingEnabled: true,
        Version: '1.0',
      });
      return { registrationToken, cloudId: id, billingModel };
    },
  );
}
