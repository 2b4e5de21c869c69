// The api-versions each resource type accepts: at least those the official clients send
// (docs/CONTRACTS.md, "ARM, on both endpoints").

/** Microsoft.Resources' resource groups, and its generic APIs alike. */
const RESOURCE_GROUPS = [
  '2016-09-01',
  '2017-05-10',
  '2018-02-01',
  '2018-05-01',
  '2019-05-01',
  '2019-08-01',
  '2019-10-01',
  '2020-06-01',
  '2021-04-01',
  '2022-09-01',
  '2024-03-01',
  '2024-07-01',
  '2025-04-01',
] as const;

export const API_VERSIONS = {
  metadata: ['2015-01-01', '2019-05-01', '2020-06-01', '2022-09-01'],
  subscriptions: [
    '2014-04-01-preview',
    '2015-01-01',
    '2015-11-01',
    '2016-06-01',
    '2018-06-01',
    '2019-06-01',
    '2019-11-01',
    '2020-01-01',
    '2021-01-01',
    '2022-12-01',
  ],
  resourceGroups: RESOURCE_GROUPS,
  /** Microsoft.Resources' generic APIs: providers and the resource list (the same versions as resource groups). */
  providers: RESOURCE_GROUPS,
  /** Microsoft.Resources/deployments: what az 2.45 (2019-10-01 in the hybrid profile 2020-09-01) and the SDKs send. */
  deployments: [
    '2016-09-01',
    '2017-05-10',
    '2018-02-01',
    '2018-05-01',
    '2019-05-01',
    '2019-05-10',
    '2019-08-01',
    '2019-10-01',
    '2020-06-01',
    '2020-10-01',
    '2021-01-01',
    '2021-04-01',
    '2022-09-01',
  ],
  authorization: ['2015-07-01', '2018-01-01-preview', '2018-09-01-preview', '2020-04-01-preview', '2022-04-01'],
  /**
   * Microsoft.Network: the hybrid profiles' (2017-10-01, 2018-11-01), az 2.45's (2022-01-01, 2022-05-01,
   * 2022-07-01), those of the template `az vm create` deploys (2015-06-15, 2016-09-01, 2017-09-01,
   * 2021-02-01) and the SDKs' between.
   */
  network: [
    '2015-06-15',
    '2016-09-01',
    '2017-09-01',
    '2017-10-01',
    '2018-11-01',
    '2019-11-01',
    '2020-05-01',
    '2020-11-01',
    '2021-02-01',
    '2021-05-01',
    '2021-08-01',
    '2022-01-01',
    '2022-05-01',
    '2022-07-01',
  ],
  system: ['2026-11-01'],
} as const satisfies Record<string, readonly string[]>;
