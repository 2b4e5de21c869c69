// The official commerce clients reading a tenant's usage, unchanged: @azure/arm-commerce (track 1)
// and the 2020-09-01-hybrid profile client (track 2, which follows nextLink by itself). Prints
// what each saw as one JSON document. Argument: a JSON with the endpoint, subscription, token
// request and window.
import { UsageManagementClient as Track1Client } from '@azure/arm-commerce';
import { UsageManagementClient as HybridClient } from '@azure/arm-commerce-profile-2020-09-01-hybrid';

const input = JSON.parse(process.argv[2]) as {
  which: 'track1' | 'hybrid';
  endpoint: string;
  subscriptionId: string;
  tokenUrl: string;
  form: Record<string, string>;
  start: string;
  end: string;
};

async function token(): Promise<string> {
  const res = await fetch(input.tokenUrl, { method: 'POST', body: new URLSearchParams(input.form) });
  return ((await res.json()) as { access_token: string }).access_token;
}
const credential = { getToken: async () => ({ token: await token(), expiresOnTimestamp: Date.now() + 3_000_000 }) };

const seen: Array<{ meterId: string; quantity: number; start: string }> = [];
let pages = 0;
if (input.which === 'track1') {
  const client = new Track1Client(credential as ConstructorParameters<typeof Track1Client>[0], input.subscriptionId, {
    baseUri: input.endpoint,
  });
  // Its listNext cannot be used (it drops the required times); list again with the continuation token.
  let continuationToken: string | undefined;
  do {
    const page = await client.usageAggregates.list(new Date(input.start), new Date(input.end), {
      showDetails: true,
      aggregationGranularity: 'Hourly',
      continuationToken,
    });
    pages++;
    for (const u of page)
      seen.push({ meterId: u.meterId!, quantity: u.quantity!, start: new Date(u.usageStartTime!).toISOString() });
    continuationToken = page.nextLink
      ? (new URL(page.nextLink).searchParams.get('continuationToken') ?? undefined)
      : undefined;
  } while (continuationToken);
} else {
  const client = new HybridClient(credential as ConstructorParameters<typeof HybridClient>[0], input.subscriptionId, {
    endpoint: input.endpoint,
  });
  for await (const page of client.usageAggregates
    .list(new Date(input.start), new Date(input.end), { showDetails: true, aggregationGranularity: 'Hourly' })
    .byPage()) {
    pages++;
    for (const u of page)
      seen.push({ meterId: u.meterId!, quantity: u.quantity!, start: new Date(u.usageStartTime!).toISOString() });
  }
}
process.stdout.write(JSON.stringify({ pages, count: seen.length, seen }));
