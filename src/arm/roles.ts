// The built-in role definitions, with the vendor's well-known ids, and the rule that says whether a
// role allows an action. Pure functions: no database, no HTTP.

export interface RoleDefinition {
  id: string;
  roleName: string;
  description: string;
  actions: string[];
  notActions: string[];
  /** Data-plane rights, which no `*` in `actions` grants (as in Azure RBAC). */
  dataActions: string[];
  /** Where the role may be assigned: the root scope `/`, subscriptions and below, or both. */
  assignableAt: 'root' | 'subscription' | 'both';
}

export const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
export const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
export const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
// Stackledger's own built-in roles (ids of our own making, stable across installations).
export const SYSTEM_ADMINISTRATOR = '5b1f3c1e-8f57-4c38-9a8e-2d5e0f1a7c01';
export const STACK_OPERATOR = '5b1f3c1e-8f57-4c38-9a8e-2d5e0f1a7c02';
export const USAGE_REPORTER = '5b1f3c1e-8f57-4c38-9a8e-2d5e0f1a7c03';
export const DEPLOYMENT = '5b1f3c1e-8f57-4c38-9a8e-2d5e0f1a7c04';

/** The data action of posting external usage (CloudEvents) to be billed to a subscription. */
export const USAGE_EVENTS_WRITE = 'Stackledger.Usage/events/write';
/** The data action of correcting usage with a negative quantity. */
export const USAGE_CORRECTIONS_WRITE = 'Stackledger.Usage/corrections/write';
/** The data action of a deployment: sign registration tokens and report its own usage. */
export const DEPLOYMENT_REPORT = 'Microsoft.AzureStack/usageReports/write';

export const BUILTIN_ROLES: readonly RoleDefinition[] = [
  {
    id: OWNER,
    roleName: 'Owner',
    description: 'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    actions: ['*'],
    notActions: [],
    dataActions: [],
    assignableAt: 'subscription',
  },
  {
    id: CONTRIBUTOR,
    roleName: 'Contributor',
    description: 'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.',
    actions: ['*'],
    notActions: [
      'Microsoft.Authorization/*/Delete',
      'Microsoft.Authorization/*/Write',
      'Microsoft.Authorization/elevateAccess/Action',
    ],
    dataActions: [],
    assignableAt: 'subscription',
  },
  {
    id: READER,
    roleName: 'Reader',
    description: 'View all resources, but does not allow you to make any changes.',
    actions: ['*/read'],
    notActions: [],
    dataActions: [],
    assignableAt: 'subscription',
  },
  {
    id: SYSTEM_ADMINISTRATOR,
    roleName: 'System Administrator',
    description:
      "Runs the hub: the clock, partners, list prices and the provider's overrides and profiles, billing runs, the usage ledger and re-attribution, multi-tenancy approval of registrations, root-scope role assignments, and webhooks for every event.",
    actions: [
      'Stackledger.System/*',
      'Stackledger.Billing/*',
      'Stackledger.Usage/*',
      'Stackledger.Notifications/*',
      'Microsoft.AzureStack/registrations/approveMultiTenancy/action',
      'Microsoft.Authorization/roleAssignments/*',
      '*/read',
    ],
    notActions: [],
    dataActions: [USAGE_EVENTS_WRITE, USAGE_CORRECTIONS_WRITE],
    assignableAt: 'root',
  },
  {
    id: STACK_OPERATOR,
    roleName: 'Azure Stack Operator',
    description:
      "Operates a deployment: its clock, registration token, bridge, chargeback and provider usage, the storage service's capacity reports, and the deployment's root-scope role assignments.",
    actions: [
      'Stackledger.System/*',
      'Stackledger.Billing/*',
      'Microsoft.Commerce.Admin/*',
      'Microsoft.Storage.Admin/*',
      'Microsoft.Authorization/roleAssignments/*',
    ],
    notActions: [],
    dataActions: [],
    assignableAt: 'root',
  },
  {
    id: USAGE_REPORTER,
    roleName: 'Usage Reporter',
    description:
      'Posts usage events (CloudEvents) from an external meter, to be billed to the subscriptions in its scope.',
    actions: [],
    notActions: [],
    dataActions: [USAGE_EVENTS_WRITE],
    assignableAt: 'both',
  },
  {
    id: DEPLOYMENT,
    roleName: 'Azure Stack Deployment',
    description:
      "A deployment's own application: signs its registration tokens and reports the usage of the cloud id its registration names.",
    actions: [],
    notActions: [],
    dataActions: [DEPLOYMENT_REPORT],
    assignableAt: 'root',
  },
];

export function findRole(id: string): RoleDefinition | undefined {
  const key = id.toLowerCase();
  return BUILTIN_ROLES.find((r) => r.id === key);
}

/** Matches an action against a permission pattern where `*` stands for any run of characters. */
export function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
        .join('.*') +
      '$',
    'i',
  );
  return re.test(action);
}

export function roleAllows(role: RoleDefinition, action: string): boolean {
  return role.actions.some((a) => actionMatches(a, action)) && !role.notActions.some((n) => actionMatches(n, action));
}

export function roleAllowsData(role: RoleDefinition, dataAction: string): boolean {
  return role.dataActions.some((a) => actionMatches(a, dataAction));
}

/** Whether a role may be assigned at a scope (`/` is the root scope). */
export function assignableAt(role: RoleDefinition, scopeKey: string): boolean {
  const atRoot = scopeKey === '/';
  return role.assignableAt === 'both' || (role.assignableAt === 'root') === atRoot;
}

/** The role definition id as ARM writes it under a subscription, or at the root scope. */
export function roleDefinitionResourceId(subscriptionId: string | null, roleId: string): string {
  const scope = subscriptionId === null ? '' : `/subscriptions/${subscriptionId}`;
  return `${scope}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`;
}

/** Accepts a bare GUID or any resource id ending in `/roleDefinitions/{guid}`. */
export function roleIdFromReference(reference: string): string | undefined {
  const m = /(?:^|\/roleDefinitions\/)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(
    reference.trim(),
  );
  return m ? m[1].toLowerCase() : undefined;
}
