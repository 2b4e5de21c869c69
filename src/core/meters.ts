// The usage meters of a deployment (docs/meters.md): id, name, unit, and the
// category the usage records of the partner center carry. Shared by both roles.

export const METERS = {
  baseVmSizeHours: {
    id: 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5',
    name: 'Base VM Size Hours',
    unit: 'vCPU hours',
    category: 'Virtual Machines',
    subcategory: 'Base',
  },
  windowsVmSizeHours: {
    id: '9cd92d4c-bafd-4492-b278-bedc2de8232a',
    name: 'Windows VM Size Hours',
    unit: 'vCPU hours',
    category: 'Virtual Machines',
    subcategory: 'Windows',
  },
  vmSizeHours: {
    id: '6dab500f-a4fd-49c4-956d-229bb9c8c793',
    name: 'VM size hours',
    unit: 'VM hours',
    category: 'Virtual Machines',
    subcategory: 'Size',
  },
  staticIp: {
    id: 'f271a8a3-88c4-4d93-956a-063e1d2fa80b',
    name: 'Static IP Address Usage',
    unit: 'IP address hours',
    category: 'Networking',
    subcategory: 'IP Addresses',
  },
  dynamicIp: {
    id: '9e2739ba-8674-4796-b465-f64674b822ba',
    name: 'Dynamic IP Address Usage',
    unit: 'IP address hours',
    category: 'Networking',
    subcategory: 'IP Addresses',
  },
  blockBlobCapacity: {
    id: '09f8879e-87e9-4305-a572-4b7be209f857',
    name: 'BlockBlobCapacity',
    unit: 'GB hours',
    category: 'Storage',
    subcategory: 'Block Blob',
  },
  tableCapacity: {
    id: 'b4438d5d-453b-4ee1-b42a-dc72e377f1e4',
    name: 'TableCapacity',
    unit: 'GB hours',
    category: 'Storage',
    subcategory: 'Table',
  },
  queueCapacity: {
    id: 'b03c6ae7-b080-4bfa-84a3-22c800f315c6',
    name: 'QueueCapacity',
    unit: 'GB hours',
    category: 'Storage',
    subcategory: 'Queue',
  },
  // Managed disks: per disk and month by size tier (S: Standard_LRS, P: Premium_LRS), and the
  // provisioned size in GB×month. Counted by the month (`per`), not by the hour.
  diskS4: {
    id: '380874f9-300c-48e0-95a0-d2d9a21ade8f',
    name: 'S4',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Standard 32 GB',
    per: 'month',
  },
  diskS6: {
    id: '1b77d90f-427b-4435-b4f1-d78adec53222',
    name: 'S6',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Standard 64 GB',
    per: 'month',
  },
  diskS10: {
    id: 'd5f7731b-f639-404a-89d0-e46186e22c8d',
    name: 'S10',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Standard 128 GB',
    per: 'month',
  },
  diskS15: {
    id: 'ff85ef31-da5b-4eac-95dd-a69d6f97b18a',
    name: 'S15',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Standard 256 GB',
    per: 'month',
  },
  diskS20: {
    id: '88ea9228-457a-4091-adc9-ad5194f30b6e',
    name: 'S20',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Standard 512 GB',
    per: 'month',
  },
  diskS30: {
    id: '5b1db88a-8596-4002-8052-347947c26940',
    name: 'S30',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Standard 1024 GB',
    per: 'month',
  },
  diskP4: {
    id: '7660b45b-b29d-49cb-b816-59f30fbab011',
    name: 'P4',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Premium 32 GB',
    per: 'month',
  },
  diskP6: {
    id: '817007fd-a077-477f-bc01-b876f27205fd',
    name: 'P6',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Premium 64 GB',
    per: 'month',
  },
  diskP10: {
    id: 'e554b6bc-96cd-4938-a5b5-0da990278519',
    name: 'P10',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Premium 128 GB',
    per: 'month',
  },
  diskP15: {
    id: 'cdc0f53a-62a9-4472-a06c-e99a23b02907',
    name: 'P15',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Premium 256 GB',
    per: 'month',
  },
  diskP20: {
    id: 'b9cb2d1a-84c2-4275-aa8b-70d2145d59aa',
    name: 'P20',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Premium 512 GB',
    per: 'month',
  },
  diskP30: {
    id: '06bde724-9f94-43c0-84c3-d0fc54538369',
    name: 'P30',
    unit: 'disk months',
    category: 'Managed Disk',
    subcategory: 'Premium 1024 GB',
    per: 'month',
  },
  actualStandardDiskSize: {
    id: '7ba084ec-ef9c-4d64-a179-7732c6cb5e28',
    name: 'ActualStandardDiskSize',
    unit: 'GB months',
    category: 'Managed Disk',
    subcategory: 'Standard',
    per: 'month',
  },
  actualPremiumDiskSize: {
    id: 'daef389a-06e5-4684-a7f7-8813d9f792d5',
    name: 'ActualPremiumDiskSize',
    unit: 'GB months',
    category: 'Managed Disk',
    subcategory: 'Premium',
    per: 'month',
  },
} as const;

export type Meter = (typeof METERS)[keyof typeof METERS];

/** The meters counted by the month (a disk's tier and size): metering spreads a month's unit over its hours. */
export const MONTHLY_METER_IDS: readonly string[] = Object.values(METERS)
  .filter((m) => 'per' in m && m.per === 'month')
  .map((m) => m.id);

/** Meter ids appear dashed or not, upper or lower case: compare them in one form. */
export function normalizeMeterId(id: string): string {
  const hex = id.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The meters by id, and by any id written otherwise that names one (kept as asked: an export asks a few ids a million times). */
const METERS_BY_ID = new Map<string, Meter | undefined>(Object.values(METERS).map((m: Meter) => [m.id, m]));

export function findMeter(id: string): Meter | undefined {
  if (METERS_BY_ID.has(id)) return METERS_BY_ID.get(id);
  const meter = METERS_BY_ID.get(normalizeMeterId(id));
  // Bounded: ids written otherwise (any caller's text) are not kept once many have been asked.
  if (METERS_BY_ID.size < 10_000) METERS_BY_ID.set(id, meter);
  return meter;
}
