import { IMAGE_MEDIA_TYPES, ImageInput } from '../vision/image-input.js';
import type { InputDescriptor, JsonSchema, RawInput } from './descriptor.js';
import { pickFile } from './file-part.js';
import type { Limits } from '../config/limits.js';

export interface ImageOptions {
  /** Multipart field holding the image. Default `image`. */
  field?: string;
  description?: string;
}

function isImageBody(contentType: string): boolean {
  return contentType.startsWith('image/') || contentType === 'application/octet-stream';
}

/**
 * An image upload: a multipart file field (default `image`), or a raw body with an
 * `image/*` or `application/octet-stream` content type. The API method receives an
 * `ImageInput`, already checked (format, size limits) but not yet decoded.
 */
export function Image(options: ImageOptions = {}): InputDescriptor<ImageInput> {
  const field = options.field ?? 'image';
  return {
    kind: 'image',
    mediaTypes: ['multipart/form-data', ...IMAGE_MEDIA_TYPES, 'application/octet-stream'],
    requestSchema() {
      const binary = { type: 'string', format: 'binary' };
      const multipart = {
        type: 'object',
        required: [field],
        properties: {
          [field]: {
            ...binary,
            description: options.description ?? 'Image file (JPEG, PNG, BMP, WebP, GIF, TIFF, AVIF, SVG)',
          },
        },
      };
      return Object.fromEntries<JsonSchema>([
        ['multipart/form-data', multipart],
        ...IMAGE_MEDIA_TYPES.map((t): [string, JsonSchema] => [t, binary]),
      ]);
    },
    async decode(input: RawInput, limits: Limits) {
      const part = pickFile(input, field, isImageBody, 'image');
      return ImageInput.probe(part.data, limits.maxImagePixels);
    },
  };
}
