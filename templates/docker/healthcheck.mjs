// The image's HEALTHCHECK: healthy once the server answers its readiness route (no curl needed in the image).
const port = process.env.PORT || '3000';
const signal = AbortSignal.timeout(4000);
fetch(`http://127.0.0.1:${port}/readyz`, { signal }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  () => process.exit(1),
);
