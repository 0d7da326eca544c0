/** `registry:5000/name:tag` → ['registry:5000/name', 'tag']: the tag is after the last `:` past the last `/`. */
export function splitImage(image: string): [string, string | undefined] {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, undefined];
}

/** An image reference's repository, and its tag or digest (`name@sha256:…` has a digest and no tag). */
export function imageParts(image: string): { name: string; tag?: string; digest?: string } {
  const at = image.indexOf('@');
  if (at > 0) return { name: image.slice(0, at), digest: image.slice(at + 1) };
  const [name, tag] = splitImage(image);
  return tag === undefined ? { name } : { name, tag };
}
