import { readSettings } from '../config/settings.js';
import { decode as decodeBmp } from 'bmp-ts';
import { imageSize } from 'image-size';
import type { Metadata, Sharp, SharpOptions } from 'sharp';
import { ImageTooLargeError, InvalidImageError, UnsupportedImageFormatError } from '../errors.js';
import { decodeSmall } from './js-decode.js';
import { nativeDecode } from './native-decode-gate.js';
import { type PixelOptions, type Pixels, type RawImage, fitPixels, isStretch } from './pixels.js';
import { fitOffThread } from './resize-pool.js';
import { loadSharp } from './sharp-loader.js';
import { earliestTiming, tagTiming } from '../request/request-timing.js';

/** Formats accepted: what sharp's prebuilt libvips decodes, plus BMP. */
export const IMAGE_FORMATS = ['jpeg', 'png', 'bmp', 'webp', 'gif', 'tiff', 'avif', 'heif', 'svg'] as const;
export const IMAGE_MEDIA_TYPES = [
  'image/jpeg',
  'image/png',
  'image/bmp',
  'image/webp',
  'image/gif',
  'image/tiff',
  'image/avif',
  'image/svg+xml',
];

/**
 * PNG and JPEG images up to this many pixels are decoded and resized in JavaScript on the HTTP thread
 * (tens of microseconds, PIL's bilinear filter); larger ones, and every other format, go to sharp's
 * thread pool. `BENTO_JS_DECODE_MAX_PIXELS` changes it (0 sends everything to sharp).
 */
export const JS_DECODE_MAX_PIXELS = readSettings().jsDecodeMaxPixels;

export type { PixelOptions, Pixels, ResizeFit, ResizeKernel } from './pixels.js';

/**
 * image-size's type names → ours; null for formats it recognises that cannot be decoded here. Types not
 * listed (heif, svg) go through sharp's own header reader, which tells AVIF from HEVC and reads SVG sizes.
 */
const HEADER_FORMATS: Record<string, string | null> = {
  png: 'png',
  jpg: 'jpeg',
  gif: 'gif',
  webp: 'webp',
  tiff: 'tiff',
  ico: null,
  cur: null,
  psd: null,
  icns: null,
  dds: null,
  ktx: null,
  pnm: null,
  tga: null,
  j2c: null,
  jp2: null,
  jxl: null,
  'jxl-stream': null,
};

function isBmp(data: Buffer): boolean {
  return data.length >= 2 && data[0] === 0x42 && data[1] === 0x4d;
}

const BMP_HEADER_BYTES = 26;

/** Width and height from a BMP header, without decoding; height is negative for top-down files. */
function bmpDimensions(data: Buffer): { width: number; height: number } {
  if (data.length < BMP_HEADER_BYTES + 4)
    throw new InvalidImageError('BMP file is truncated: its header is incomplete');
  const headerSize = data.readUInt32LE(14);
  if (headerSize === 12) return { width: data.readUInt16LE(18), height: data.readUInt16LE(20) };
  return { width: data.readInt32LE(18), height: Math.abs(data.readInt32LE(22)) };
}

/**
 * An uploaded image, checked but not yet decoded: its header has been read, its
 * format is supported and its size is within limits. Decoding happens once, at
 * the size the model needs.
 */
export class ImageInput {
  private constructor(
    readonly data: Buffer,
    readonly format: string,
    readonly width: number,
    readonly height: number,
    readonly channels: number,
    readonly hasAlpha: boolean,
    readonly frames: number,
    private readonly maxPixels: number,
  ) {}

  /** Reads the header of `data` and refuses what cannot or should not be decoded. */
  static async probe(data: Buffer, maxPixels: number): Promise<ImageInput> {
    if (data.length === 0) throw new InvalidImageError('the image is empty (0 bytes)');
    if (isBmp(data)) {
      const { width, height } = bmpDimensions(data);
      ImageInput.checkSize(width, height, maxPixels);
      return new ImageInput(data, 'bmp', width, height, 3, false, 1, maxPixels);
    }
    const fast = ImageInput.fromHeader(data, maxPixels);
    if (fast) return fast;
    let meta: Metadata;
    try {
      const sharp = await loadSharp();
      meta = await nativeDecode(() => sharp(data, { limitInputPixels: false }).metadata());
    } catch (err) {
      const message = (err as Error).message;
      if (/unsupported image format/i.test(message)) {
        throw new UnsupportedImageFormatError(
          `the data is not an image in a supported format (${IMAGE_FORMATS.join(', ')})`,
        );
      }
      throw new InvalidImageError(`the image cannot be read: ${message}`);
    }
    const format = meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : String(meta.format);
    if (!(IMAGE_FORMATS as readonly string[]).includes(format)) {
      throw new UnsupportedImageFormatError(`${format} images are not supported; send ${IMAGE_FORMATS.join(', ')}`);
    }
    const width = meta.width ?? 0;
    const height = meta.pageHeight ?? meta.height ?? 0;
    ImageInput.checkSize(width, height, maxPixels);
    return new ImageInput(
      data,
      format,
      width,
      height,
      meta.channels ?? 3,
      meta.hasAlpha ?? false,
      meta.pages ?? 1,
      maxPixels,
    );
  }

  /**
   * Reads dimensions from the header in JavaScript: for the common formats this avoids a round trip
   * through sharp's thread pool just to learn the size. Returns undefined when sharp should look instead.
   */
  private static fromHeader(data: Buffer, maxPixels: number): ImageInput | undefined {
    let header: ReturnType<typeof imageSize>;
    try {
      header = imageSize(data);
    } catch {
      return undefined;
    }
    const format = HEADER_FORMATS[header.type ?? ''];
    if (format === undefined) return undefined;
    if (format === null)
      throw new UnsupportedImageFormatError(
        `${header.type} images are not supported; send ${IMAGE_FORMATS.join(', ')}`,
      );
    ImageInput.checkSize(header.width, header.height, maxPixels);
    return new ImageInput(data, format, header.width, header.height, 3, false, header.images?.length ?? 1, maxPixels);
  }

  /** Only the first frame of an animated image is decoded (`pages: 1`), so its size is what the limit bounds. */
  private static checkSize(width: number, height: number, maxPixels: number): void {
    if (!(width > 0 && height > 0))
      throw new InvalidImageError(`the image declares an invalid size ${width}x${height}`);
    if (width * height > maxPixels) {
      throw new ImageTooLargeError(
        `the image is ${width}x${height} pixels, more than the limit of ${maxPixels} pixels`,
      );
    }
  }

  /** Decodes the first frame, resizes it and converts it to `channels` 8-bit channels. */
  async toPixels(options: PixelOptions): Promise<Pixels> {
    // The pixels belong to the request this image came with (request-timing.ts).
    return tagTiming(await this.decodeTo(options), earliestTiming([this]));
  }

  private async decodeTo(options: PixelOptions): Promise<Pixels> {
    if (this.width * this.height <= JS_DECODE_MAX_PIXELS && isStretch(options)) {
      const raw = decodeSmall(this.data, this.format);
      if (raw) return fitPixels(raw, options);
    }
    try {
      return await fitWithSharp(await this.pipeline(), options);
    } catch (err) {
      if (err instanceof InvalidImageError) throw err;
      throw new InvalidImageError(`the ${this.format} image cannot be decoded: ${(err as Error).message}`);
    }
  }

  private async pipeline(): Promise<Sharp> {
    const sharp = await loadSharp();
    const options: SharpOptions = { failOn: 'error', limitInputPixels: this.maxPixels, pages: 1 };
    if (this.format !== 'bmp') return sharp(this.data, options);
    let bmp: ReturnType<typeof decodeBmp>;
    try {
      // bmp-ts writes ABGR consistently only in its default mode (its toRGBA option is ignored for palette images).
      bmp = decodeBmp(this.data);
    } catch (err) {
      throw new InvalidImageError(`the BMP image cannot be decoded: ${(err as Error).message}`);
    }
    const width = bmp.width;
    const height = Math.abs(bmp.height);
    if (!(width > 0) || bmp.data.length < width * height * 4)
      throw new InvalidImageError('the BMP image is truncated or malformed');
    const rgb = Buffer.allocUnsafe(width * height * 3);
    for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
      rgb[j] = bmp.data[i + 3]!;
      rgb[j + 1] = bmp.data[i + 2]!;
      rgb[j + 2] = bmp.data[i + 1]!;
    }
    return sharp(rgb, { raw: { width, height, channels: 3 } });
  }
}

/** Fits decoded pixels as Pillow does: on the event loop when small, else on a worker thread (resize-pool.ts). */
function fit(raw: RawImage, options: PixelOptions): Pixels | Promise<Pixels> {
  return raw.width * raw.height <= JS_DECODE_MAX_PIXELS ? fitPixels(raw, options) : fitOffThread(raw, options);
}

/** Wraps raw interleaved pixels (e.g. from a JSON tensor) so they go through the same resize path as files. */
export async function resizePixels(pixels: Pixels, options: PixelOptions): Promise<Pixels> {
  if (pixels.width === options.width && pixels.height === options.height && pixels.channels === options.channels)
    return pixels;
  if (isStretch(options)) return fit(pixels, options);
  const channels = pixels.channels as 1 | 2 | 3 | 4;
  const sharp = await loadSharp();
  return fitWithSharp(sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels } }), options);
}

/**
 * Decodes with libvips, off the event loop: the path for large images and other formats. A stretch is then resized
 * in JavaScript, as Pillow does; `cover` and `contain` (which Image.resize does not do) are resized by libvips.
 */
async function fitWithSharp(image: Sharp, options: PixelOptions): Promise<Pixels> {
  if (isStretch(options)) {
    // sRGB and no alpha, as Pillow's convert('RGB'); grey is taken from it with Pillow's luma (fitInJs).
    const { data, info } = await nativeDecode(() =>
      image.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
    );
    return fit({ data, width: info.width, height: info.height, channels: info.channels }, options);
  }
  const { data, info } = await nativeDecode(() =>
    image
      .resize(options.width, options.height, { fit: options.fit ?? 'fill', kernel: options.kernel ?? 'linear' })
      .removeAlpha()
      .toColourspace(options.channels === 1 ? 'b-w' : 'srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }),
  );
  if (info.channels !== options.channels)
    throw new Error(`decoder produced ${info.channels} channels, expected ${options.channels}`);
  return { data, width: info.width, height: info.height, channels: info.channels };
}
