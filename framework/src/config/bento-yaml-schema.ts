/**
 * The schema of bento.yaml, the build and serve configuration of a service
 * project. Kept as JSON Schema so that editors can use it too
 * (`bento schema > bento.schema.json`), and so one validator reports every
 * problem with the key that caused it.
 */
import type { JsonSchema } from '../io/descriptor.js';

const positiveNumber = { type: 'number', exclusiveMinimum: 0 };
const positiveInt = { type: 'integer', minimum: 1 };
const stringList = { type: 'array', items: { type: 'string', minLength: 1 } };

const traffic = {
  type: 'object',
  additionalProperties: false,
  properties: { timeoutMs: positiveNumber, maxConcurrency: positiveInt },
};

const batching = {
  type: 'object',
  additionalProperties: false,
  properties: { maxBatchSize: positiveInt, maxLatencyMs: positiveNumber, maxQueueSize: positiveInt },
};

const scalar = { type: ['string', 'number', 'boolean'] };

/** Kubernetes quantities: CPU in cores or millicores (`2`, `0.5`, `500m`), memory in bytes with a unit (`512Mi`, `2Gi`). */
export const CPU_QUANTITY = '^([0-9]+(\\.[0-9]{1,3})?|[0-9]+m)$';
export const MEMORY_QUANTITY = '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$';

export const BENTO_YAML_SCHEMA: JsonSchema = {
  $id: 'https://bento-ts.dev/schemas/bento.yaml.json',
  title: 'bento.yaml',
  type: 'object',
  additionalProperties: false,
  properties: {
    service: {
      type: 'string',
      minLength: 1,
      description: 'The service project (directory with package.json) or its service file, relative to bento.yaml',
    },
    name: {
      type: 'string',
      pattern: '^[a-z0-9]([-._a-z0-9]*[a-z0-9])?$',
      maxLength: 63,
      description: 'Bento name: lowercase letters, digits, "-", "_" and "." (default: the @service name)',
    },
    description: { type: 'string', description: 'Markdown, inline, or "file: ./README.md" to read a file' },
    labels: { type: 'object', additionalProperties: scalar },
    include: { ...stringList, description: 'gitignore-style patterns of service files to pack (default: all)' },
    exclude: {
      ...stringList,
      description: 'gitignore-style patterns left out (after include; .bentoignore adds more)',
    },
    models: {
      type: 'array',
      description:
        'Model URIs resolved and packed into the bento, so it serves offline; a served bento takes an alias as MODEL_URI',
      items: {
        oneOf: [
          { type: 'string', minLength: 1 },
          {
            type: 'object',
            additionalProperties: false,
            required: ['uri'],
            properties: {
              uri: { type: 'string', minLength: 1 },
              alias: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
            },
          },
        ],
      },
    },
    plugins: {
      ...stringList,
      description: 'Plugins beside the installed built-ins: package names or paths relative to bento.yaml',
    },
    env: {
      description: 'Environment variables: a mapping, or a list of {name, value, stage: all|build|runtime}',
      oneOf: [
        { type: 'object', propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, additionalProperties: scalar },
        {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: {
              name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
              value: scalar,
              stage: { enum: ['all', 'build', 'runtime'] },
            },
          },
        },
      ],
    },
    docker: {
      type: 'object',
      additionalProperties: false,
      properties: {
        baseImage: {
          type: 'string',
          minLength: 1,
          description: 'Base image with Node.js (default node:<nodeVersion>-bookworm-slim)',
        },
        nodeVersion: {
          type: 'string',
          pattern: '^[0-9]+(\\.[0-9]+){0,2}$',
          description: 'Node.js major (or full) version of the default base image',
        },
        systemPackages: { ...stringList, description: 'Debian packages installed with apt-get' },
        setupScript: {
          type: 'string',
          minLength: 1,
          description: 'Script run as root after the system packages (relative to bento.yaml)',
        },
      },
    },
    workers: {
      oneOf: [positiveInt, { const: 'cpu_count' }],
      description: 'HTTP worker processes sharing the port; overrides @service({ workers })',
    },
    resources: {
      type: 'object',
      additionalProperties: false,
      description:
        "What one instance needs (BentoML's resources): the requests of `bento deploy k8s` and `bento deploy kserve`",
      properties: {
        cpu: {
          oneOf: [positiveNumber, { type: 'string', pattern: CPU_QUANTITY }],
          description: 'Cores: 2, 0.5 or "500m" (default 1)',
        },
        memory: {
          type: 'string',
          pattern: MEMORY_QUANTITY,
          description: 'Memory, also the container\'s limit: "1Gi", "512Mi" (default 1Gi)',
        },
      },
    },
    traffic: { ...traffic, description: 'Service-wide traffic limits; override @service({ traffic })' },
    apis: {
      type: 'object',
      description: 'Per-API overrides, by API method name',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { traffic: { oneOf: [traffic, { const: false }] } },
      },
    },
    runners: {
      type: 'object',
      description: 'Per-runner overrides, by runner name',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          workers: { oneOf: [positiveInt, { const: 'cpu_count' }] },
          threadsPerWorker: positiveInt,
          batching: { type: 'object', description: 'By @method name', additionalProperties: batching },
          variants: {
            type: 'object',
            description: 'Model versions served side by side (canary, A/B, shadow), by variant name',
            propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' },
            minProperties: 1,
            additionalProperties: {
              type: 'object',
              additionalProperties: false,
              required: ['uri'],
              properties: {
                uri: { type: 'string', minLength: 1, description: "The variant's model URI" },
                weight: {
                  type: 'number',
                  minimum: 0,
                  description: 'Relative share of the requests (default 1; 0: only by header)',
                },
                shadow: { type: 'boolean', description: 'Gets a copy of every request; its answers are discarded' },
              },
            },
          },
        },
      },
    },
  },
};
