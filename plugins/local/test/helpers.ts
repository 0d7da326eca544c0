import type { Logger } from '@bento-ts/framework/plugin';
export { ModelFormatError, ModelNotFoundError, ModelStore } from '@bento-ts/framework/plugin';

export const consoleLoggerForTests: Logger = { debug() {}, info() {}, warn() {}, error() {} };
