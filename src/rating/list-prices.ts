import { METERS } from '../core/meters.ts';

// The default price sheet: the public list prices of the deployment's meters, in US dollars.
//
// Source: Directions on Microsoft, "Azure Stack Meters at Release" (published 2017-07-25, updated
// 2020-07-16), which lists the pay-as-you-use prices Microsoft charges for Azure Stack Hub:
//   Base VM                 US$0.008 per vCPU per hour
//   Windows Server VM       US$0.046 per vCPU per hour (on top of the base VM)
//   Blob storage            US$0.006 per GB per month
//   Table and queue storage US$0.018 per GB per month
// IP addresses and the "VM size hours" meter (VM hours, not core-adjusted) carry no charge: they
// are reported for the operator's chargeback. Their list price is 0.
//
// Our capacity meters count GB hours, so monthly prices are converted at 730 hours a month (the
// vendor's convention, 8,760 hours / 12) and rounded half away from zero to 6 decimals, the
// precision of a partner center `unitPrice`. That rounding happens once, here:
//   0.006 / 730 = 0.00000821… → 0.000008 per GB hour (US$0.00584 per GB-month)
//   0.018 / 730 = 0.00002465… → 0.000025 per GB hour (US$0.01825 per GB-month)
export const LIST_PRICE_SOURCE =
  'Directions on Microsoft, "Azure Stack Meters at Release", 2017-07-25 (updated 2020-07-16)';
export const LIST_PRICES_EFFECTIVE_FROM = '2017-07-25';
export const LIST_CURRENCY = 'USD';
export const HOURS_PER_MONTH = 730;

export const LIST_PRICES: { meterId: string; unitPrice: string }[] = [
  { meterId: METERS.baseVmSizeHours.id, unitPrice: '0.008' },
  { meterId: METERS.windowsVmSizeHours.id, unitPrice: '0.046' },
  { meterId: METERS.vmSizeHours.id, unitPrice: '0' },
  { meterId: METERS.staticIp.id, unitPrice: '0' },
  { meterId: METERS.dynamicIp.id, unitPrice: '0' },
  { meterId: METERS.blockBlobCapacity.id, unitPrice: '0.000008' },
  { meterId: METERS.tableCapacity.id, unitPrice: '0.000025' },
  { meterId: METERS.queueCapacity.id, unitPrice: '0.000025' },
];

// Managed disks. Azure Stack Hub's price list (the Azure RateCard's "Azure Stack Hub" category,
// subcategory "Managed Disks", effective 2019-12-03, in US dollars) prices a disk by the month by
// its size tier, one series for Standard and Premium alike: "M30 Disks" US$10.24 per month, that
// is US$0.01 per GB of the tier. The smaller tiers are priced at the same US$0.01 per GB of their
// size (M4 32 GB: 0.32, M6: 0.64, M10: 1.28, M15: 2.56, M20: 5.12). The actual-size meters
// (GB×month) carry no charge: the tier does, and they are reported for the operator's chargeback.
// Quantities are disk months and GB months (a month's hours sum to 1), so no hourly conversion.
export const MANAGED_DISK_PRICE_SOURCE =
  'Azure RateCard, category "Azure Stack Hub", subcategory "Managed Disks", "M30 Disks" US$10.24/month (2019-12-03); other tiers at the same US$0.01 per GB';
export const MANAGED_DISK_PRICES_EFFECTIVE_FROM = '2019-12-03';

const tierPrices = (ids: string[]) =>
  ids.map((meterId, i) => ({ meterId, unitPrice: ['0.32', '0.64', '1.28', '2.56', '5.12', '10.24'][i] }));

export const MANAGED_DISK_LIST_PRICES: { meterId: string; unitPrice: string }[] = [
  ...tierPrices([
    METERS.diskS4.id,
    METERS.diskS6.id,
    METERS.diskS10.id,
    METERS.diskS15.id,
    METERS.diskS20.id,
    METERS.diskS30.id,
  ]),
  ...tierPrices([
    METERS.diskP4.id,
    METERS.diskP6.id,
    METERS.diskP10.id,
    METERS.diskP15.id,
    METERS.diskP20.id,
    METERS.diskP30.id,
  ]),
  { meterId: METERS.actualStandardDiskSize.id, unitPrice: '0' },
  { meterId: METERS.actualPremiumDiskSize.id, unitPrice: '0' },
];
