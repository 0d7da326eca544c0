import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../errors.js';

/** BentoML's tag rule for names and versions: lowercase letters, digits, `-`, `_`, `.`; at most 63 characters. */
const TAG_PART = /^[a-z0-9]([-._a-z0-9]*[a-z0-9])?$/;
export const MAX_TAG_PART = 63;

export interface BentoTag {
  name: string;
  /** Empty when the tag named only the bento (or `latest`): the newest version is meant. */
  version: string;
}

export function checkTagPart(value: string, what: 'name' | 'version'): string {
  if (!TAG_PART.test(value) || value.length > MAX_TAG_PART) {
    throw new InvalidInputError(
      `"${value}" is not a valid bento ${what}: use lowercase letters, digits, "-", "_" and ".", starting and ending with a letter or digit, at most ${MAX_TAG_PART} characters`,
    );
  }
  return value;
}

/** Parses `name`, `name:latest` or `name:version`. */
export function parseBentoTag(tag: string): BentoTag {
  const i = tag.indexOf(':');
  const name = checkTagPart(i < 0 ? tag : tag.slice(0, i), 'name');
  const version = i < 0 ? '' : tag.slice(i + 1);
  if (version === '' || version === 'latest') return { name, version: '' };
  return { name, version: checkTagPart(version, 'version') };
}

export function formatTag(tag: BentoTag): string {
  return `${tag.name}:${tag.version || 'latest'}`;
}

// Crockford's base32 alphabet is in ASCII order, so later versions sort after earlier ones.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

function base32(value: bigint, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) {
    out = ALPHABET[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

/**
 * A new 16-character version, as BentoML's: time-ordered (10 characters of
 * milliseconds since the epoch) and unique (30 random bits).
 */
export function generateVersion(now = Date.now()): string {
  return base32(BigInt(now), 10) + base32(BigInt(randomBytes(4).readUInt32BE() >>> 2), 6);
}
