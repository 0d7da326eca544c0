import { type Settings, readSettings } from './settings.js';

/** Bounds on what one request may make the server do. All configurable; all enforced before work is done. */
export interface Limits {
  /** Largest request body, in bytes (413 above it). */
  maxBodyBytes: number;
  /** Largest image, in pixels (width × height of the frame decoded: an animated image's first); checked from the header, before decoding. */
  maxImagePixels: number;
  /** Files in one multipart request. */
  maxFiles: number;
  /** Non-file fields in one multipart request. */
  maxFields: number;
  /** Largest request header block, in bytes. */
  maxHeaderBytes: number;
  /**
   * How long an idle keep-alive connection stays open, in ms. Longer than the idle timeout of the load balancers
   * and clients in front (60 s for most): whoever closes an idle connection first must be the client, or a request
   * it sends as the server closes is reset, unanswered.
   */
  keepAliveTimeoutMs: number;
  /** How long a request's headers and body may take to arrive, in ms (408 past it): a slow client's bound. */
  receiveTimeoutMs: number;
}

/** The limits `settings` give: each its BENTO_* setting, else the catalogue's default. */
export function limitsFrom(settings: Pick<Settings, keyof Limits>): Limits {
  const { maxBodyBytes, maxImagePixels, maxFiles, maxFields, maxHeaderBytes, keepAliveTimeoutMs, receiveTimeoutMs } =
    settings;
  return { maxBodyBytes, maxImagePixels, maxFiles, maxFields, maxHeaderBytes, keepAliveTimeoutMs, receiveTimeoutMs };
}

export const DEFAULT_LIMITS: Limits = limitsFrom(readSettings({}));
