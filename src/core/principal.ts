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

// The route audit: every function that decides what a caller may do notes that it ran for the
// request's principal; an ARM endpoint refuses to answer a non-anonymous request with success
// unless its rights were checked (see `armEndpoint`), so a route that forgets its check fails closed.
const rightsChecked = new WeakSet<Principal>();

/** Notes that the caller's rights were decided (by a role check, or by scoping to its own objects). */
export function noteRightsChecked(principal: Principal): void {
  rightsChecked.add(principal);
}

export function wereRightsChecked(principal: Principal): boolean {
  return rightsChecked.has(principal);
}
