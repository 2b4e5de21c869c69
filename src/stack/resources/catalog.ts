import { armError } from '../../core/errors.ts';

// What a deployment offers its tenants: VM sizes, platform images, and the usage meters its
// resources emit (docs/meters.md). Pure data and functions.

export { METERS, normalizeMeterId } from '../../core/meters.ts';

export interface VmSize {
  name: string;
  numberOfCores: number;
  memoryInMB: number;
  maxDataDiskCount: number;
  osDiskSizeInMB: number;
  resourceDiskSizeInMB: number;
}

// The vendor's Azure Stack Hub size table (the sizes docs/CONTRACTS.md names, and their neighbours).
export const VM_SIZES: readonly VmSize[] = [
  {
    name: 'Standard_A1_v2',
    numberOfCores: 1,
    memoryInMB: 2048,
    maxDataDiskCount: 2,
    osDiskSizeInMB: 1047552,
    resourceDiskSizeInMB: 10240,
  },
  {
    name: 'Standard_A2_v2',
    numberOfCores: 2,
    memoryInMB: 4096,
    maxDataDiskCount: 4,
    osDiskSizeInMB: 1047552,
    resourceDiskSizeInMB: 20480,
  },
  {
    name: 'Standard_A4_v2',
    numberOfCores: 4,
    memoryInMB: 8192,
    maxDataDiskCount: 8,
    osDiskSizeInMB: 1047552,
    resourceDiskSizeInMB: 40960,
  },
  {
    name: 'Standard_D1_v2',
    numberOfCores: 1,
    memoryInMB: 3584,
    maxDataDiskCount: 4,
    osDiskSizeInMB: 1047552,
    resourceDiskSizeInMB: 51200,
  },
  {
    name: 'Standard_D2_v2',
    numberOfCores: 2,
    memoryInMB: 7168,
    maxDataDiskCount: 8,
    osDiskSizeInMB: 1047552,
    resourceDiskSizeInMB: 102400,
  },
  {
    name: 'Standard_D3_v2',
    numberOfCores: 4,
    memoryInMB: 14336,
    maxDataDiskCount: 16,
    osDiskSizeInMB: 1047552,
    resourceDiskSizeInMB: 204800,
  },
  // az vm create's default size.
  {
    name: 'Standard_DS1_v2',
    numberOfCores: 1,
    memoryInMB: 3584,
    maxDataDiskCount: 4,
    osDiskSizeInMB: 1047552,
    resourceDiskSizeInMB: 7168,
  },
  {
    name: 'Standard_DS2_v2',
    numberOfCores: 2,
    memoryInMB: 7168,
    maxDataDiskCount: 8,
    osDiskSizeInMB: 1047552,
    resourceDiskSizeInMB: 14336,
  },
];

export function findSize(name: string): VmSize | undefined {
  return VM_SIZES.find((s) => s.name.toLowerCase() === name.toLowerCase());
}

export interface PlatformImage {
  publisher: string;
  offer: string;
  sku: string;
  versions: string[];
  osType: 'Windows' | 'Linux';
}

export const IMAGES: readonly PlatformImage[] = [
  {
    publisher: 'MicrosoftWindowsServer',
    offer: 'WindowsServer',
    sku: '2019-Datacenter',
    versions: ['17763.2114.2108051826', '17763.2183.2109130127'],
    osType: 'Windows',
  },
  {
    publisher: 'MicrosoftWindowsServer',
    offer: 'WindowsServer',
    sku: '2016-Datacenter',
    versions: ['14393.4583.2108040833', '14393.4651.2109130126'],
    osType: 'Windows',
  },
  {
    publisher: 'Canonical',
    offer: 'UbuntuServer',
    sku: '18.04-LTS',
    versions: ['18.04.202108240', '18.04.202109180'],
    osType: 'Linux',
  },
  // The images behind the Azure CLI's aliases (UbuntuLTS above, Ubuntu2204, Debian, CentOS,
  // Win2022Datacenter, Win2019Datacenter, Win2016Datacenter, Win2012R2Datacenter).
  {
    publisher: 'Canonical',
    offer: '0001-com-ubuntu-server-jammy',
    sku: '22_04-lts',
    versions: ['22.04.202301050', '22.04.202302140'],
    osType: 'Linux',
  },
  {
    publisher: 'Debian',
    offer: 'debian-10',
    sku: '10',
    versions: ['0.20221205.1220', '0.20230124.1270'],
    osType: 'Linux',
  },
  { publisher: 'OpenLogic', offer: 'CentOS', sku: '7.5', versions: ['7.5.20180626', '7.5.201808150'], osType: 'Linux' },
  {
    publisher: 'MicrosoftWindowsServer',
    offer: 'WindowsServer',
    sku: '2022-Datacenter',
    versions: ['20348.1366.221207', '20348.1487.230106'],
    osType: 'Windows',
  },
  {
    publisher: 'MicrosoftWindowsServer',
    offer: 'WindowsServer',
    sku: '2012-R2-Datacenter',
    versions: ['9600.20671.221111', '9600.20778.230110'],
    osType: 'Windows',
  },
];

export const catalogErrors = {
  invalidSize: (size: string) =>
    armError(
      'InvalidParameter',
      `The requested VM size ${size} is not available in this location. Sizes: ${VM_SIZES.map((s) => s.name).join(', ')}.`,
      'hardwareProfile.vmSize',
    ),
  imageNotFound: (ref: string) =>
    armError('PlatformImageNotFound', `The platform image '${ref}' is not available.`, 'storageProfile.imageReference'),
};

/** Resolves an image reference; `latest` becomes the newest version. */
export function resolveImage(ref: { publisher?: string; offer?: string; sku?: string; version?: string }): {
  image: PlatformImage;
  version: string;
} {
  const label = `${ref.publisher}:${ref.offer}:${ref.sku}:${ref.version ?? 'latest'}`;
  const image = IMAGES.find(
    (i) =>
      i.publisher.toLowerCase() === (ref.publisher ?? '').toLowerCase() &&
      i.offer.toLowerCase() === (ref.offer ?? '').toLowerCase() &&
      i.sku.toLowerCase() === (ref.sku ?? '').toLowerCase(),
  );
  if (!image) throw catalogErrors.imageNotFound(label);
  const version =
    !ref.version || ref.version.toLowerCase() === 'latest' ? image.versions[image.versions.length - 1] : ref.version;
  if (!image.versions.includes(version)) throw catalogErrors.imageNotFound(label);
  return { image, version };
}
