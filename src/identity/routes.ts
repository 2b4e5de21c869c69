import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ArmError, armErrors, OAuthError } from '../core/errors.ts';
import { newGuid } from '../core/ids.ts';
import { isUnsafeText, registerErrorShape } from '../http/edge.ts';
import { adfsAuthorityOf } from '../core/tokens.ts';
import { GRANT_TYPES, oauthErrors } from './rules.ts';
import type { IdentityService } from './service.ts';
import { issueToken } from './token.ts';

// The login endpoints: Azure AD's shapes under the hub's login base path (token v1 and v2, OpenID
// configuration, signing keys), and the AD FS-style authority at `/adfs`. Everything here is anonymous.

function oauthErrorBody(e: OAuthError, request: FastifyRequest) {
  const now = new Date();
  return {
    error: e.error,
    error_description: `${e.message}\r\nTrace ID: ${request.id}\r\nTimestamp: ${now.toISOString()}`,
    error_codes: [e.aadsts],
    timestamp: now
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z'),
    trace_id: request.id,
    correlation_id: String(request.headers['client-request-id'] ?? newGuid()),
  };
}

function sendOAuthError(reply: FastifyReply, e: OAuthError) {
  return reply.status(e.status).send(oauthErrorBody(e, reply.request));
}

/** Form bodies, and errors in OAuth's shape: the same at both authorities. */
function installOAuthPlumbing(app: FastifyInstance): void {
  registerErrorShape(app, (error, request) => oauthErrorBody(oauthErrors.invalidRequest(error.message), request));
  // The token endpoint takes forms only, as Azure AD does; every value passes the edge's text check.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const form = Object.fromEntries(new URLSearchParams(body as string));
    if (Object.entries(form).some(([k, v]) => isUnsafeText(k) || isUnsafeText(v)))
      return done(armErrors.invalidText('form'));
    done(null, form);
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).length === 0) return done(null, {});
    done(
      oauthErrors.invalidRequest(
        `The content type '${String(req.headers['content-type'] ?? '')}' is not supported: send the parameters as application/x-www-form-urlencoded.`,
      ),
    );
  });
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof OAuthError) return sendOAuthError(reply, error);
    // Refusals from the edge or from Fastify (body too large, bad content length) say what was wrong;
    // anything else is ours: logged with the request id, never shown.
    if (error instanceof ArmError && error.status < 500)
      return sendOAuthError(reply, oauthErrors.invalidRequest(error.message));
    const status = (error as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500)
      return sendOAuthError(reply, oauthErrors.invalidRequest((error as Error).message));
    request.log.error({ err: error }, 'sign-in failed');
    return sendOAuthError(reply, oauthErrors.serverError(request.id));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: 'not_found',
      error_description: `No endpoint at '${request.method} ${request.url.split('?')[0]}'.`,
    }),
  );
}

/** The token request's parameters: only text counts (a JSON body's other values are left out, so they read as missing). */
function formOf(body: unknown): Record<string, string> {
  if (typeof body !== 'object' || body === null) return {};
  return Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The OpenID configuration's fields that both authorities share. */
const commonConfiguration = (base: string) => ({
  grant_types_supported: [...GRANT_TYPES],
  response_types_supported: [],
  subject_types_supported: ['pairwise'],
  id_token_signing_alg_values_supported: ['RS256'],
  token_endpoint_auth_methods_supported: ['client_secret_post'],
  scopes_supported: ['openid', 'profile', 'offline_access'],
  claims_supported: [
    'sub',
    'iss',
    'aud',
    'exp',
    'iat',
    'nbf',
    'tid',
    'oid',
    'upn',
    'unique_name',
    'preferred_username',
    'name',
    'appid',
  ],
  cloud_instance_name: new URL(base).host,
});

const noInteractiveSignIn = async () => {
  throw oauthErrors.interactiveNotSupported();
};

/** The Azure AD-style login endpoint: `{login}/{tenant}/…`. */
export function registerLoginRoutes(app: FastifyInstance, identity: IdentityService): void {
  installOAuthPlumbing(app);

  const tokenHandler =
    (version: 'v1' | 'v2') => async (request: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
      const form = formOf(request.body);
      const response = await issueToken(identity, { kind: 'aad', tenant: request.params.tenant }, version, form);
      return reply.header('cache-control', 'no-store').send(response);
    };
  app.post('/:tenant/oauth2/token', tokenHandler('v1'));
  app.post('/:tenant/oauth2/v2.0/token', tokenHandler('v2'));

  const openIdConfiguration =
    (version: 'v1' | 'v2') => async (request: FastifyRequest<{ Params: { tenant: string } }>) => {
      const base = identity.loginBase();
      const segment = String(request.params.tenant);
      const dir = await identity.findDirectory(segment);
      if (!dir && !['common', 'organizations'].includes(segment.toLowerCase()))
        throw oauthErrors.tenantNotFound(segment);
      const tenant = dir?.tenant_id ?? segment;
      const v = version === 'v2' ? '/v2.0' : '';
      return {
        issuer: version === 'v2' ? `${base}/${tenant}/v2.0` : `${base}/${tenant}/`,
        // No interactive sign-in exists: the authorization endpoint only says so. It is listed because
        // MSAL (the Azure SDKs' sign-in library) requires it and reads the tenant from its path.
        authorization_endpoint: `${base}/${segment}/oauth2${v}/authorize`,
        token_endpoint: `${base}/${segment}/oauth2${v}/token`,
        jwks_uri: `${base}/${segment}/discovery${v}/keys`,
        ...commonConfiguration(base),
        tenant_region_scope: 'NA',
        cloud_graph_host_name: new URL(base).host,
        msgraph_host: new URL(base).host,
      };
    };
  app.get('/:tenant/.well-known/openid-configuration', openIdConfiguration('v1'));
  app.get('/:tenant/v2.0/.well-known/openid-configuration', openIdConfiguration('v2'));

  for (const v of ['', '/v2.0']) {
    app.get(`/:tenant/oauth2${v}/authorize`, noInteractiveSignIn);
    app.post(`/:tenant/oauth2${v}/authorize`, noInteractiveSignIn);
  }

  const keys = async () => identity.jwks();
  app.get('/:tenant/discovery/keys', keys);
  app.get('/:tenant/discovery/v2.0/keys', keys);
  app.get('/discovery/keys', keys);
}

/**
 * The AD FS-style authority (`{origin}/adfs`), which MSAL takes as it is: no instance discovery, no
 * user-realm discovery. Clients name no directory here: the token endpoint works it out.
 */
export function registerAdfsRoutes(app: FastifyInstance, identity: IdentityService): void {
  installOAuthPlumbing(app);
  app.get('/.well-known/openid-configuration', async () => {
    const authority = adfsAuthorityOf(identity.loginBase());
    return {
      issuer: authority,
      authorization_endpoint: `${authority}/oauth2/authorize`,
      token_endpoint: `${authority}/oauth2/token`,
      jwks_uri: `${authority}/discovery/keys`,
      ...commonConfiguration(authority),
    };
  });
  // One token endpoint for both shapes, as AD FS: `resource` asks for v1, `scope` for v2.
  app.post('/oauth2/token', async (request, reply) => {
    const form = formOf(request.body);
    const response = await issueToken(identity, { kind: 'adfs' }, form.resource ? 'v1' : 'v2', form);
    return reply.header('cache-control', 'no-store').send(response);
  });
  app.get('/oauth2/authorize', noInteractiveSignIn);
  app.post('/oauth2/authorize', noInteractiveSignIn);
  app.get('/discovery/keys', async () => identity.jwks());
}
