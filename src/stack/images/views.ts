import { armError } from '../../core/errors.ts';
import { IMAGES, type PlatformImage } from '../resources/catalog.ts';

// The VM image catalog as Microsoft.Compute shows it (publishers, offers, skus, versions), from the
// platform images the stack offers (`resources/catalog.ts`). Pure functions.

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const unique = (names: string[]) => names.filter((n, i) => names.findIndex((m) => same(m, n)) === i);

export const imageErrors = {
  notFound: (what: string) => armError('NotFound', `Artifact: ${what} was not found.`),
  invalidTop: (top: string) =>
    armError('InvalidParameter', `The value '${top.slice(0, 32)}' of $top is not a non-negative integer.`, '$top'),
  invalidOrderBy: (orderBy: string) =>
    armError(
      'InvalidParameter',
      `The value '${orderBy.slice(0, 64)}' of $orderby is not supported: use 'name' or 'name desc'.`,
      '$orderby',
    ),
};

export interface ImagePath {
  subscriptionId: string;
  location: string;
  publisher?: string;
  offer?: string;
  sku?: string;
}

function base(p: ImagePath): string {
  let id = `/Subscriptions/${p.subscriptionId}/Providers/Microsoft.Compute/Locations/${p.location}/Publishers`;
  if (p.publisher !== undefined) id += `/${p.publisher}/ArtifactTypes/VMImage/Offers`;
  if (p.offer !== undefined) id += `/${p.offer}/Skus`;
  if (p.sku !== undefined) id += `/${p.sku}/Versions`;
  return id;
}

const entry = (p: ImagePath, name: string) => ({ name, location: p.location, id: `${base(p)}/${name}` });

/** The images under a path (a publisher's, an offer's, a sku's); 404 when the path names none. */
function imagesUnder(p: ImagePath): PlatformImage[] {
  const found = IMAGES.filter(
    (i) =>
      (p.publisher === undefined || same(i.publisher, p.publisher)) &&
      (p.offer === undefined || same(i.offer, p.offer)) &&
      (p.sku === undefined || same(i.sku, p.sku)),
  );
  if (found.length === 0 && p.publisher !== undefined)
    throw imageErrors.notFound(p.offer === undefined ? 'VMImage' : p.sku === undefined ? 'Offer' : 'Sku');
  return found;
}

export const publishersView = (p: ImagePath) => unique(IMAGES.map((i) => i.publisher)).map((n) => entry(p, n));
export const offersView = (p: ImagePath) => unique(imagesUnder(p).map((i) => i.offer)).map((n) => entry(p, n));
export const skusView = (p: ImagePath) => unique(imagesUnder(p).map((i) => i.sku)).map((n) => entry(p, n));

/** Versions compare by their numeric parts (`18.04.202109180` after `18.04.202108240`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface VersionQuery {
  top?: string;
  orderBy?: string;
  expand?: string;
}

/** A sku's versions, ordered by name (ascending, or descending with `name desc`), the first `$top`. */
export function versionsView(p: ImagePath & { sku: string }, q: VersionQuery) {
  const [image] = imagesUnder(p);
  let versions = [...image.versions].sort(compareVersions);
  if (q.orderBy !== undefined) {
    const m = /^\s*name(\s+(asc|desc))?\s*$/i.exec(q.orderBy);
    if (!m) throw imageErrors.invalidOrderBy(q.orderBy);
    if (m[2]?.toLowerCase() === 'desc') versions.reverse();
  }
  if (q.top !== undefined) {
    if (!/^\d{1,9}$/.test(q.top)) throw imageErrors.invalidTop(q.top);
    versions = versions.slice(0, Number(q.top));
  }
  return versions.map((v) => ({
    ...entry(p, v),
    ...(q.expand?.toLowerCase() === 'properties' ? { properties: imageProperties(image) } : {}),
  }));
}

function imageProperties(image: PlatformImage) {
  return {
    hyperVGeneration: /gen2/i.test(image.sku) ? 'V2' : 'V1',
    architecture: 'x64',
    replicaType: 'Unmanaged',
    disallowed: { vmDiskType: 'None' },
    automaticOSUpgradeProperties: { automaticOSUpgradeSupported: false },
    features: [],
    osDiskImage: { operatingSystem: image.osType, sizeInGb: image.osType === 'Windows' ? 127 : 30 },
    dataDiskImages: [],
  };
}

/** One version: its OS disk, no data disks, no plan (platform images are free of marketplace terms). */
export function versionView(p: ImagePath & { sku: string }, version: string) {
  const [image] = imagesUnder(p);
  const name = image.versions.find((v) => same(v, version));
  if (!name) throw imageErrors.notFound('VMImage');
  return { ...entry(p, name), properties: imageProperties(image) };
}
