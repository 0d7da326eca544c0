// The floor cold-start.mjs measures bento serve against: Node.js starting fastify and answering /readyz, nothing
// else (no model, no plugins).
import Fastify from 'fastify';

const app = Fastify();
app.get('/readyz', async () => ({ status: 'ready' }));
await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
