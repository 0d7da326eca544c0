// Prints the settings tables of docs/configuration.md from the catalogue in framework/src/config/settings.ts
// (after make build). The docs test checks the page holds exactly this text: edit the catalogue, then paste.
import { SETTINGS } from '../framework/dist/src/config/settings.js';

const GROUPS = {
  server: 'Server',
  model: 'Model',
  convert: 'Model conversion',
  limits: 'Request limits',
  runner: 'Runners and batching',
  logging: 'Logs and tracing',
  mlflow: 'MLflow',
  storage: 'Stores and downloads',
  tools: 'Tools',
};
const code = (s) => `\`${s}\``;
let group = '';
const lines = [];
for (const s of SETTINGS) {
  if (s.group !== group) {
    group = s.group;
    lines.push('', `### ${GROUPS[group]}`, '', '| setting | default | meaning |', '|---|---|---|');
  }
  const names = [
    code(s.name),
    ...(s.aliases ?? []).map((a) => `(${code(a)})`),
    ...(s.flag ? [`/ ${code(s.flag)}`] : []),
  ].join(' ');
  lines.push(
    `| ${names} | ${s.default} | ${s.description}${s.secret ? ' (a secret: masked by `bento config`)' : ''} |`,
  );
}
process.stdout.write(lines.slice(1).join('\n') + '\n');
