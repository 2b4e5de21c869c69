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
} as const;

export type Meter = (typeof METERS)[keyof typeof METERS];

/** Meter ids appear dashed or not, upper or lower case: compare them in one form. */
export function normalizeMeterId(id: string): string {
  const hex = id.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function findMeter(id: string): Meter | undefined {
  const key = normalizeMeterId(id);
  return Object.values(METERS).find((m) => m.id === key);
}
