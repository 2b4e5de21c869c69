import type { HttpClient, JsonResponse } from '../../core/http-client.ts';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { appToken } from '../../core/tokens.ts';
import type { OutboxRecord } from './store.ts';

// The bridge's calls to the hub, signed in as the deployment's registration (the stack's own
// application): a batch of usage records, and the summary of what the hub received.

export interface HubOptions {
  http: HttpClient;
  hubArm: () => string;
  hubLogin: () => string;
  homeDirectory: () => string | undefined;
  application: { appId: () => string | undefined; secret: () => string | undefined };
  cloudId: () => string | undefined;
}

export class BridgeHubClient {
  #token?: { value: string; until: number };
  constructor(private readonly o: HubOptions) {}

  /** Whether the deployment is registered and has its application's credentials. */
  get ready(): boolean {
    return Boolean(this.o.cloudId() && this.o.application.secret());
  }

  async #bearer(): Promise<string> {
    if (this.#token && this.#token.until > Date.now()) return this.#token.value;
    const value = await appToken(
      this.o.http,
      this.o.hubLogin(),
      {
        tenantId: this.o.homeDirectory()!,
        clientId: this.o.application.appId()!,
        clientSecret: this.o.application.secret()!,
      },
      this.o.hubArm(),
    );
    this.#token = { value, until: Date.now() + 30 * 60_000 };
    return value;
  }

  async #call(method: string, path: string, body?: unknown): Promise<JsonResponse> {
    const res = await this.o.http.send(method, `${this.o.hubArm()}${path}`, { token: await this.#bearer(), body });
    if (res.status === 401) this.#token = undefined;
    return res;
  }

  postBatch(batchId: string, records: OutboxRecord[]): Promise<JsonResponse> {
    return this.#call('POST', `/providers/Microsoft.AzureStack/usageReports?api-version=${API_VERSIONS.system[0]}`, {
      cloudId: this.o.cloudId(),
      batchId,
      records,
    });
  }

  summary(from: Date, to: Date): Promise<JsonResponse> {
    const q = new URLSearchParams({
      'api-version': API_VERSIONS.system[0],
      cloudId: this.o.cloudId() ?? '',
      from: from.toISOString(),
      to: to.toISOString(),
    });
    return this.#call('GET', `/providers/Microsoft.AzureStack/usageReports/summary?${q}`);
  }
}
