import { isAscii } from 'node:buffer';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ArmError, armErrors } from '../core/errors.ts';
import { wereRightsChecked, type Principal } from '../core/principal.ts';
import { checkJsonValue, mayHoldUnsafeText, registerErrorShape } from './edge.ts';

// ARM request handling shared by every ARM endpoint of both roles: bearer authentication for the
// endpoint's audience, the api-version rule, JSON bodies, the error envelope (paging: paging.ts).

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The api-versions this route accepts, and the resource type named in the error. */
    apiVersions?: readonly string[];
    resourceType?: string;
    /** No token needed (metadata, health, sign-in). */
    anonymous?: boolean;
  }
}

export interface TokenVerifier {
  /** Verifies a bearer token for one of the audiences; throws an ArmError (401) when it is not good. */
  verify(token: string, audiences: string[]): Promise<Principal>;
}

export interface ArmEndpointOptions {
  /** The endpoint's base URL (no trailing slash), known once the server listens. */
  baseUrl: () => string;
  /** The audiences a token must carry for this endpoint (its metadata names them). */
  audiences: () => string[];
  /** Where a client gets a token: written into the WWW-Authenticate challenge. */
  authorizationUri: () => string;
  verifier: TokenVerifier;
  /** A role's own further admission rule, such as the stack's onboarded directories. */
  admit?: (principal: Principal) => Promise<void>;
  /** ARM's answer for a path that no route serves but that names a provider (an unknown type or namespace); the generic NotFound otherwise. */
  unknownRoute?: (path: string, apiVersion: string | undefined) => ArmError | undefined;
  /** How an error looks on this endpoint; ARM's envelope by default. */
  render?: (error: ArmError, request: FastifyRequest) => unknown;
}

/** The directory API's error envelope (Microsoft Graph). */
export function renderGraphError(error: ArmError, request: FastifyRequest): unknown {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.target ? { target: error.target } : {}),
      innerError: {
        date: new Date().toISOString(),
        'request-id': request.id,
        'client-request-id': request.headers['client-request-id'] ?? request.id,
      },
    },
  };
}

/** The partner center's error envelope. */
export function renderPartnerCenterError(error: ArmError): unknown {
  return { code: error.code, description: error.message, ...(error.target ? { target: error.target } : {}) };
}

export const BODY_LIMIT = 4 * 1024 * 1024;

/** Routes that answered without a rights check since the process started (the route audit test reads it). */
export const unauditedAnswers: string[] = [];

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw armErrors.authenticationMissing();
  return request.principal;
}

/**
 * A body's text. Most are ASCII, which read as Latin-1 give the same text; a Latin-1 text of a
 * megabyte or more Node keeps outside V8's heap (a copy in memory that malloc reuses), where a
 * UTF-8 one is fresh heap memory each time: a usage batch of 2.7 MB decodes and parses in ~9 ms,
 * not ~13 (BENCHMARKS.md, "Session 19" under "Hub ingestion").
 */
export function jsonText(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

/**
 * Accepts JSON with or without a body, as ARM does for POST and DELETE. `parse` reads the text
 * (strict JSON by default; the deployments' routes take what Resource Manager reads, comments and all).
 */
export function acceptJsonBodies(app: FastifyInstance, parse: (text: string) => unknown = JSON.parse): void {
  app.removeAllContentTypeParsers();
  const parseJson = (_req: FastifyRequest, bytes: Buffer, done: (err: Error | null, value?: unknown) => void) => {
    const body = jsonText(bytes);
    if (body.trim().length === 0) return done(null, null);
    let value: unknown;
    try {
      value = parse(body);
    } catch (e) {
      return done(armErrors.invalidRequestContent(`The request content was not valid JSON: ${(e as Error).message}`));
    }
    try {
      checkJsonValue(value, mayHoldUnsafeText(body));
    } catch (e) {
      return done(e as Error);
    }
    done(null, value);
  };
  app.addContentTypeParser(
    ['application/json', 'text/json', 'application/cloudevents-batch+json'],
    { parseAs: 'buffer', bodyLimit: BODY_LIMIT },
    parseJson,
  );
  // A body without a JSON type is refused unless it is empty.
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (req, body, done) => {
    if ((body as string).length === 0) return done(null, null);
    done(armErrors.unsupportedMediaType(String(req.headers['content-type'] ?? '')));
  });
}

function challenge(opts: ArmEndpointOptions, error: ArmError): ArmError {
  const header = `Bearer authorization_uri="${opts.authorizationUri()}", error="invalid_token", error_description="${error.message.replaceAll('"', "'")}"`;
  return error.withHeaders({ 'www-authenticate': header });
}

async function authenticate(opts: ArmEndpointOptions, request: FastifyRequest): Promise<void> {
  if (request.routeOptions.config?.anonymous) return;
  const header = request.headers.authorization;
  if (!header) throw challenge(opts, armErrors.authenticationMissing());
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m)
    throw challenge(
      opts,
      armErrors.authenticationInvalid("the 'Authorization' header is not of the form 'Bearer <token>'"),
    );
  try {
    request.principal = await opts.verifier.verify(m[1], opts.audiences());
  } catch (e) {
    if (e instanceof ArmError && e.status === 401) throw challenge(opts, e);
    throw e;
  }
  if (opts.admit) await opts.admit(request.principal);
}

function queryValue(request: FastifyRequest, name: string): string | undefined {
  const q = request.query as Record<string, unknown> | undefined;
  if (!q) return undefined;
  const key = Object.keys(q).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : q[key];
  return Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
}

export { queryValue };

function checkApiVersion(request: FastifyRequest): void {
  const config = request.routeOptions.config;
  if (!config?.apiVersions) return;
  const given = queryValue(request, 'api-version');
  if (given === undefined || given === '') throw armErrors.missingApiVersion();
  if (!config.apiVersions.some((v) => v.toLowerCase() === given.toLowerCase())) {
    const type = config.resourceType ?? 'this resource';
    // A provider's type answers as ARM answers for providers; ARM's own types (groups, subscriptions) as ARM does.
    const providerType = /\/providers\/[^/:]+\.[^/]+\//i.test(request.routeOptions.url ?? '');
    throw providerType
      ? armErrors.noRegisteredProvider(type, given, config.apiVersions)
      : armErrors.invalidApiVersion(given, type, config.apiVersions);
  }
}

function fieldPath(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (missing) parts.push(missing);
  return parts.join('.');
}

/** Maps anything thrown while handling a request to the ARM error envelope. */
export function toArmError(error: FastifyError | Error, request: FastifyRequest): ArmError {
  if (error instanceof ArmError) return error;
  const fe = error as FastifyError & {
    validation?: Array<{ instancePath: string; message?: string; params?: { missingProperty?: string } }>;
  };
  if (fe.validation && fe.validation.length > 0) {
    const v = fe.validation[0];
    const target = fieldPath(v.instancePath, v.params?.missingProperty);
    const what = v.params?.missingProperty ? 'is required' : (v.message ?? 'is invalid');
    const where = fe.validationContext === 'body' ? '' : `${fe.validationContext} `;
    return armErrors.invalidRequestContent(
      `The request content was invalid: ${where}'${target || '(root)'}' ${what}.`,
      target || undefined,
    );
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return armErrors.bodyTooLarge(BODY_LIMIT);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return armErrors.unsupportedMediaType(String(request.headers['content-type'] ?? ''));
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return armErrors.invalidRequestContent(fe.message);
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return armErrors.frameworkRefusal(fe.statusCode, fe.message);
  }
  return armErrors.internal(request.id);
}

export function sendArmError(
  reply: FastifyReply,
  error: ArmError,
  render?: ArmEndpointOptions['render'],
): FastifyReply {
  const body = render ? render(error, reply.request) : error.toBody();
  return reply.status(error.status).headers(error.headers).type('application/json; charset=utf-8').send(body);
}

/**
 * Installs ARM-style handling on an encapsulated Fastify context (an ARM endpoint, or the partner
 * center and directory APIs with their own error shapes); routes are registered by the caller.
 */
export function armEndpoint(app: FastifyInstance, opts: ArmEndpointOptions): void {
  acceptJsonBodies(app);
  registerErrorShape(app, (error, request) => (opts.render ? opts.render(error, request) : error.toBody()));
  app.addHook('onRequest', async (request) => authenticate(opts, request));
  app.addHook('preValidation', async (request) => {
    checkApiVersion(request);
    // No body at all reads as JSON null, so that a route may accept "no body" in its schema.
    if (request.body === undefined) request.body = null;
  });
  // The route audit's guard: a non-anonymous route that answers with success without having
  // checked the caller's rights is refused (and logged), so a forgotten check fails closed.
  app.addHook('onSend', async (request, reply, payload) => {
    if (
      reply.statusCode >= 400 ||
      request.routeOptions.config?.anonymous ||
      !request.principal ||
      wereRightsChecked(request.principal)
    )
      return payload;
    request.log.error(
      { method: request.method, route: request.routeOptions.url },
      "refused: the route answered without checking the caller's rights",
    );
    unauditedAnswers.push(`${request.method} ${request.routeOptions.url}`);
    const error = armErrors.authorizationFailed(
      request.principal.objectId,
      `${request.method} ${request.routeOptions.url}`,
      request.url.split('?')[0],
    );
    reply.status(error.status).type('application/json; charset=utf-8');
    return JSON.stringify(opts.render ? opts.render(error, request) : error.toBody());
  });
  app.setErrorHandler((error, request, reply) => {
    const refusal = toArmError(error as Error, request);
    if (refusal.status >= 500) request.log.error({ err: error }, 'request failed');
    return sendArmError(reply, refusal, opts.render);
  });
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0];
    const known = opts.unknownRoute?.(path.replace(/\/{2,}/g, '/'), queryValue(request, 'api-version'));
    return sendArmError(reply, known ?? armErrors.routeNotFound(request.method, path), opts.render);
  });
}
