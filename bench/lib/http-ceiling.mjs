// The HTTP ceiling: a minimal fastify server that accepts the same multipart upload as /predict_image,
// reads the file, and answers a fixed JSON. Prints its URL on stdout.
import Fastify from 'fastify';
import multipart from '@fastify/multipart';

const app = Fastify({ logger: false });
await app.register(multipart);
const answer = { predicted_class: 'Ankle boot', predicted_index: 9, confidence: 0.99 };
app.post('/predict_image', async (req) => {
  const file = await req.file();
  await file.toBuffer();
  return answer;
});
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`http://127.0.0.1:${app.server.address().port}`);
