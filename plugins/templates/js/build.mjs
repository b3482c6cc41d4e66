// Builds plugin.js into the component plugin.wasm.
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const { component } = await componentize({
  sourcePath: 'plugin.js',
  witPath: 'wit',
  worldName: 'filter',
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile('plugin.wasm', component);
