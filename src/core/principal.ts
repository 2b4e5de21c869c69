// Who is calling, as read from a verified bearer token. Shared by both roles.
export interface Principal {
  tenantId: string;
  objectId: string;
  kind: 'User' | 'ServicePrincipal';
  appId?: string;
  userPrincipalName?: string;
  displayName?: string;
  audience: string;
}
