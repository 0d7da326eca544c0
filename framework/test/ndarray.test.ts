import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_LIMITS,
  InvalidTensorError,
  NdArray,
  TooManyItemsError,
  tensorFromJson,
  type BentoError,
} from '../src/index.js';

const opts = { dtype: 'uint8' as const, shape: [null, 2, 2, [1, 3]] as Array<number | number[] | null>, maxItems: 3 };
const img = (v: number) => [
  [
    [v, v, v],
    [v, v, v],
  ],
  [
    [v, v, v],
    [v, v, v],
  ],
];

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return `${(err as BentoError).statusCode} ${(err as BentoError).code}`;
  }
  return 'no error';
}

describe('tensorFromJson', () => {
  it('packs nested lists into a typed array in row-major order', () => {
    const t = tensorFromJson([img(1), img(2)], opts, 'input');
    assert.deepEqual(t.shape, [2, 2, 2, 3]);
    assert.ok(t.data instanceof Uint8Array);
    assert.equal(t.data[0], 1);
    assert.equal(t.data[12], 2);
  });

  it('supports float and int64 dtypes', () => {
    const f = tensorFromJson([[0.5, -1.25]], { dtype: 'float32' });
    assert.deepEqual([...f.data], [0.5, -1.25]);
    const i = tensorFromJson([[1, 2]], { dtype: 'int64' });
    assert.deepEqual([...i.data], [1n, 2n]);
  });

  const cases: Array<[string, unknown, string | RegExp]> = [
    [
      'a ragged row',
      [
        img(1),
        [
          [[1, 1, 1]],
          [
            [1, 1, 1],
            [1, 1, 1],
          ],
        ],
      ],
      /input\[1\]\[0\] has 1 items; expected a list of 2/,
    ],
    [
      'a value above 255',
      [
        [
          [
            [1, 1, 256],
            [1, 1, 1],
          ],
          [
            [1, 1, 1],
            [1, 1, 1],
          ],
        ],
      ],
      /input\[0\]\[0\]\[0\]\[2\] is 256, outside the uint8 range/,
    ],
    [
      'a negative value',
      [
        [
          [
            [-1, 1, 1],
            [1, 1, 1],
          ],
          [
            [1, 1, 1],
            [1, 1, 1],
          ],
        ],
      ],
      /is -1, outside/,
    ],
    [
      'a fraction',
      [
        [
          [
            [1.5, 1, 1],
            [1, 1, 1],
          ],
          [
            [1, 1, 1],
            [1, 1, 1],
          ],
        ],
      ],
      /must be integers/,
    ],
    [
      'a string',
      [
        [
          [
            ['1', 1, 1],
            [1, 1, 1],
          ],
          [
            [1, 1, 1],
            [1, 1, 1],
          ],
        ],
      ],
      /must be a number, got string/,
    ],
    [
      'a null',
      [
        [
          [
            [null, 1, 1],
            [1, 1, 1],
          ],
          [
            [1, 1, 1],
            [1, 1, 1],
          ],
        ],
      ],
      /must be a number, got null/,
    ],
    [
      'two channels',
      [
        [
          [
            [1, 1],
            [1, 1],
          ],
          [
            [1, 1],
            [1, 1],
          ],
        ],
      ],
      /axis 3 must be 1\|3, got 2/,
    ],
    ['a wrong rank', [[1, 2, 3]], /rank 2 \(shape \[1, 3\]\); expected \[any, 2, 2, 1\|3\]/],
    ['too deep a nesting', [[[[[1]]]]], /nested deeper than the expected rank 4/],
    ['a scalar', 5, /must be a nested list/],
    ['an object', { a: 1 }, /must be a nested list/],
  ];
  for (const [what, value, message] of cases) {
    it(`refuses ${what} with 400 INVALID_TENSOR`, () => {
      assert.throws(
        () => tensorFromJson(value, opts, 'input'),
        (err: Error) =>
          err instanceof InvalidTensorError &&
          (typeof message === 'string' ? err.message.includes(message) : message.test(err.message)),
      );
    });
  }

  it('refuses an empty batch with 400 and too many items with 413', () => {
    assert.equal(
      code(() => tensorFromJson([], opts)),
      '400 INVALID_TENSOR',
    );
    assert.throws(() => tensorFromJson([img(1), img(1), img(1), img(1)], opts), TooManyItemsError);
    assert.equal(
      code(() => tensorFromJson([img(1), img(1), img(1), img(1)], opts)),
      '413 TOO_MANY_ITEMS',
    );
  });

  it('survives pathological nesting without recursion blow-up', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.throws(() => tensorFromJson(deep, { dtype: 'float32' }), /nested deeper/);
  });
});

describe('alternative shapes', () => {
  const alt = {
    dtype: 'uint8' as const,
    shapes: [
      [null, 2, 2],
      [null, 2, 2, [1, 3]],
    ] as Array<Array<number | number[] | null>>,
  };
  it('accepts each alternative and names all of them when none fits', () => {
    assert.deepEqual(
      tensorFromJson(
        [
          [
            [1, 2],
            [3, 4],
          ],
        ],
        alt,
      ).shape,
      [1, 2, 2],
    );
    assert.deepEqual(tensorFromJson([img(1)], alt).shape, [1, 2, 2, 3]);
    assert.throws(() => tensorFromJson([[1, 2]], alt), /expected \[any, 2, 2\] or \[any, 2, 2, 1\|3\]/);
    assert.throws(
      () =>
        tensorFromJson(
          [
            [
              [1, 2, 3],
              [3, 4, 5],
            ],
          ],
          alt,
        ),
      /axis 2 must be 2, got 3/,
    );
  });
});

describe('NdArray input', () => {
  const input = NdArray({ ...opts, field: 'input' });

  it('reads the tensor from its field of a JSON body', async () => {
    const t = await input.decode({ kind: 'json', value: { input: [img(3)] } }, DEFAULT_LIMITS);
    assert.deepEqual(t.shape, [1, 2, 2, 3]);
  });

  it('refuses a body without the field, a non-object body and a non-JSON body', async () => {
    await assert.rejects(input.decode({ kind: 'json', value: { images: [] } }, DEFAULT_LIMITS), /no "input" field/);
    await assert.rejects(input.decode({ kind: 'json', value: [img(1)] }, DEFAULT_LIMITS), /must be a JSON object/);
    await assert.rejects(
      input.decode({ kind: 'binary', contentType: 'text/plain', data: Buffer.from('x') }, DEFAULT_LIMITS),
      /Content-Type: application\/json/,
    );
  });

  it('describes the nested shape in its request schema', () => {
    const schema = input.requestSchema()['application/json'] as {
      properties: { input: { maxItems: number; items: { items: { minItems: number } } } };
    };
    assert.equal(schema.properties.input.maxItems, 3);
    assert.equal(schema.properties.input.items.items.minItems, 2);
  });
});
