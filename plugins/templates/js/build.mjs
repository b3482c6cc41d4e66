// Builds plugin.js, with the SDK it imports from ./sdk, into the component plugin.wasm.
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

// componentize-js reads only the imports below the folder it runs in: this one.
process.chdir(fileURLToPath(new URL('.', import.meta.url)));
const { component } = await componentize({
  sourcePath: 'plugin.js',
  witPath: 'wit',
  worldName: '{{world}}',
  // No fetch(): the host lets only enrichers make requests, to routes.toml's
  // `allowed_outbound_hosts`. An enricher that calls out drops 'http' and 'fetch-event' here.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile('plugin.wasm', component);
