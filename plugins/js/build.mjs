// Builds each JavaScript plugin into a component in ../../target/plugins/. componentize-js reads
// a plugin's imports from inside the folder it runs in, so it runs at the repository's root,
// where both the plugins and the SDK (plugins/sdk/js) are.
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const plugins = [
  { source: 'high-value.js', world: 'filter', out: 'js_high_value.wasm' },
  { source: 'audit.js', world: 'consumer', out: 'js_audit.wasm' },
  { source: 'order-created-plugin.js', world: 'consumer', out: 'js_order_created.wasm' },
];

await mkdir(here('../../target/plugins/'), { recursive: true });
process.chdir(here('../../'));
for (const { source, world, out } of plugins) {
  const { component } = await componentize({
    sourcePath: `plugins/js/${source}`,
    witPath: 'wit',
    worldName: world,
    // No fetch(): only enrichers may make requests, and these plugins are not enrichers.
    disableFeatures: ['http', 'fetch-event'],
  });
  await writeFile(here(`../../target/plugins/${out}`), component);
  console.error(`built ${out} (${world})`);
}
