#!/usr/bin/env node
// Compiled code is cached on disk (Node.js's compile cache): later starts skip parsing and compiling the framework
// and its dependencies. Worker threads and child processes find the directory in NODE_COMPILE_CACHE. The CLI is
// imported after, so that its own modules are cached too.
import module from 'node:module';

const cache = module.enableCompileCache?.();
if (cache?.directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = cache.directory;
await import('../dist/src/cli/cli.js');
