// Every error code the directory API (Microsoft Graph) answers, with its HTTP status. `graphError`
// looks the status up here.

export const GRAPH_CODES = {
  Request_BadRequest: 400,
  Request_UnsupportedQuery: 400,
  Authorization_RequestDenied: 403,
  Request_ResourceNotFound: 404,
  Request_MultipleObjectsWithSameKeyValue: 409,
} as const satisfies Record<string, number>;

export type GraphCode = keyof typeof GRAPH_CODES;
