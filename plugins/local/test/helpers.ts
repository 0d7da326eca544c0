import type { Logger } from '@bento-ts/framework';
export { ModelFormatError, ModelNotFoundError, ModelStore } from '@bento-ts/framework';

export const consoleLoggerForTests: Logger = { debug() {}, info() {}, warn() {}, error() {} };
