import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { container } from 'tsyringe';
import { Image, LoadedModel, api, method, runnable, runner, service, type Runner } from '../src/index.js';
import { ServiceDefinitionError } from '../src/errors.js';
import { getApis } from '../src/sdk/decorators/api.js';
import { getMethods } from '../src/sdk/decorators/method.js';
import { getRunnableDefinition } from '../src/sdk/decorators/runnable.js';
import { getServiceDefinition } from '../src/sdk/decorators/service.js';
import { runnerToken } from '../src/sdk/decorators/runner.js';

@runnable({ model: './model' })
class EchoRunnable {
  constructor(readonly model: LoadedModel) {}

  @method({ batchable: true, maxBatchSize: 8, maxLatencyMs: 20 })
  async echo(x: number): Promise<number> {
    return x;
  }

  @method()
  async plain(): Promise<string> {
    return 'plain';
  }
}

@service({ name: 'echo_service', traffic: { timeoutMs: 1234, maxConcurrency: 7 } })
class EchoService {
  constructor(@runner(EchoRunnable) readonly r: Runner<EchoRunnable>) {}

  @api({ input: Image() })
  async classify() {
    return 1;
  }

  @api({ route: '/custom', summary: 'Custom' })
  async info() {
    return 2;
  }
}

describe('@service', () => {
  it('records name, traffic and the runnables asked for with @runner', () => {
    const def = getServiceDefinition(EchoService);
    assert.deepEqual(def, {
      name: 'echo_service',
      description: undefined,
      traffic: { timeoutMs: 1234, maxConcurrency: 7 },
      runnables: [EchoRunnable],
    });
  });

  it('defaults the timeout to 60 s like BentoML', () => {
    @service({ name: 'plain' })
    class Plain {
      @api() async a() {}
    }
    assert.equal(getServiceDefinition(Plain)?.traffic.timeoutMs, 60_000);
  });

  for (const bad of ['Upper', 'has space', '-lead', 'x'.repeat(64), '']) {
    it(`rejects the name ${JSON.stringify(bad)}`, () => {
      assert.throws(() => {
        @service({ name: bad })
        class Bad {}
        return Bad;
      }, ServiceDefinitionError);
    });
  }

  it('rejects a non-positive timeout', () => {
    assert.throws(() => {
      @service({ name: 'x', traffic: { timeoutMs: 0 } })
      class Bad {}
      return Bad;
    }, /timeoutMs must be a positive number/);
  });

  it('refuses constructor parameters that have neither type metadata nor a token', () => {
    class NoMeta {
      constructor(readonly dep: unknown) {}
    }
    // What esbuild/tsx emit: no design:paramtypes at all.
    Reflect.deleteMetadata('design:paramtypes', NoMeta);
    assert.throws(() => service({ name: 'nometa' })(NoMeta), /has no type metadata/);
  });
});

describe('@api', () => {
  it('maps methods to routes: POST when there is input, GET otherwise, /<name> by default', () => {
    const apis = getApis(EchoService).map(({ name, route, method, summary }) => ({ name, route, method, summary }));
    assert.deepEqual(apis, [
      { name: 'classify', route: '/classify', method: 'POST', summary: undefined },
      { name: 'info', route: '/custom', method: 'GET', summary: 'Custom' },
    ]);
  });

  it('refuses GET with input, routes without a slash and dunder names', () => {
    assert.throws(() => {
      class A {
        @api({ method: 'GET', input: Image() }) async a() {}
      }
      return A;
    }, /GET API cannot take input/);
    assert.throws(() => {
      class B {
        @api({ route: 'nope' }) async b() {}
      }
      return B;
    }, /must start with "\/"/);
    assert.throws(() => {
      class C {
        @api() async __c() {}
      }
      return C;
    }, /cannot start with "__"/);
  });

  it("keeps a subclass from changing its parent's API list", () => {
    class Child extends EchoService {
      @api() async extra() {}
    }
    assert.equal(getApis(Child).length, 3);
    assert.equal(getApis(EchoService).length, 2);
  });
});

describe('@runnable and @method', () => {
  it('records batching config with BentoML defaults (the queue size, derived, is left to the resolved definition)', () => {
    assert.deepEqual(getMethods(EchoRunnable), [
      {
        name: 'echo',
        batchable: true,
        batchDim: [0, 0],
        maxBatchSize: 8,
        maxLatencyMs: 20,
        maxQueueSize: undefined,
        preferredBatchSizes: undefined,
        namedTensors: false,
      },
      {
        name: 'plain',
        batchable: false,
        batchDim: [0, 0],
        maxBatchSize: 100,
        maxLatencyMs: 60_000,
        maxQueueSize: undefined,
        preferredBatchSizes: undefined,
        namedTensors: false,
      },
    ]);
    assert.equal(getRunnableDefinition(EchoRunnable)?.name, 'echorunnable');
  });

  it('refuses a runnable without methods or without a model', () => {
    assert.throws(() => {
      @runnable({ model: 'x' })
      class Empty {}
      return Empty;
    }, /has no @method/);
    assert.throws(() => runnable({} as never)(class X {}), /"model" must be/);
  });

  it('refuses invalid batch settings', () => {
    assert.throws(() => method({ maxBatchSize: 0 })({}, 'm', { value: () => 1 }), /maxBatchSize/);
    assert.throws(() => method({ batchDim: -1 })({}, 'm', { value: () => 1 }), /batchDim/);
    assert.throws(
      () => method({ maxBatchSize: 8, preferredBatchSizes: [4, 16] })({}, 'm', { value: () => 1 }),
      /preferredBatchSizes/,
    );
    assert.throws(() => method({ maxQueueSize: 0 })({}, 'm', { value: () => 1 }), /maxQueueSize/);
  });
});

describe('dependency injection', () => {
  it("injects the runner registered under the runnable's token", () => {
    const scope = container.createChildContainer();
    const fake = { runnerName: 'echorunnable' };
    scope.registerInstance(runnerToken(EchoRunnable), fake);
    const svc = scope.resolve(EchoService);
    assert.equal(svc.r, fake);
  });

  it('injects LoadedModel into a runnable', () => {
    const scope = container.createChildContainer();
    const model = new LoadedModel({ uri: 'x', source: 'local', path: '/', format: 'onnx', metadata: {} }, {} as never);
    scope.registerInstance(LoadedModel, model);
    assert.equal(scope.resolve(EchoRunnable).model, model);
  });

  it('explains a @runner() given a non-class', () => {
    assert.throws(() => runner(undefined as never)(class Y {}, undefined, 0), /import type/);
  });
});
