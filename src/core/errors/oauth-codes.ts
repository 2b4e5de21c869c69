// Every error the token endpoint answers, by its AADSTS code as Azure AD names it: OAuth's `error`
// and the HTTP status. `oauthError` looks both up here.

interface OAuthCodeEntry {
  status: number;
  error: string;
}

export const OAUTH_CODES = {
  AADSTS50020: { status: 400, error: 'invalid_grant' },
  AADSTS50053: { status: 400, error: 'invalid_grant' },
  AADSTS50057: { status: 400, error: 'invalid_grant' },
  AADSTS50126: { status: 400, error: 'invalid_grant' },
  AADSTS50173: { status: 400, error: 'invalid_grant' },
  AADSTS70000: { status: 400, error: 'invalid_grant' },
  AADSTS700082: { status: 400, error: 'invalid_grant' },
  AADSTS9002313: { status: 400, error: 'invalid_grant' },
  AADSTS70003: { status: 400, error: 'unsupported_grant_type' },
  AADSTS70005: { status: 400, error: 'unsupported_response_type' },
  AADSTS70011: { status: 400, error: 'invalid_scope' },
  AADSTS90002: { status: 400, error: 'invalid_request' },
  AADSTS90023: { status: 400, error: 'invalid_request' },
  AADSTS900144: { status: 400, error: 'invalid_request' },
  AADSTS500011: { status: 400, error: 'invalid_resource' },
  AADSTS700016: { status: 400, error: 'unauthorized_client' },
  AADSTS7000215: { status: 401, error: 'invalid_client' },
  AADSTS7000218: { status: 400, error: 'invalid_client' },
  AADSTS90033: { status: 500, error: 'server_error' },
} as const satisfies Record<`AADSTS${number}`, OAuthCodeEntry>;

export type OAuthCode = keyof typeof OAUTH_CODES;
