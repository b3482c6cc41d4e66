// Builds each JavaScript plugin into a component in ../../target/plugins/. componentize-js reads
// a plugin's imports from inside the folder it runs in, so it runs at the repository's root,
// where both the plugins and the SDK (plugins/sdk/js) are.
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const plugins = [
  { source: 'plugins/js/high-value.js', world: 'filter', out: 'js_high_value.wasm' },
  { source: 'plugins/js/audit.js', world: 'consumer', out: 'js_audit.wasm' },
  { source: 'plugins/js/order-created-plugin.js', world: 'consumer', out: 'js_order_created.wasm' },
];
// `--baselines`: also the filter as written before the SDK, which `bench micro` compares with.
if (process.argv.includes('--baselines')) {
  plugins.push({ source: 'tests/plugins/js/bindings-high-value.js', world: 'filter', out: 'js_bindings_high_value.wasm' });
}

await mkdir(here('../../target/plugins/'), { recursive: true });
process.chdir(here('../../'));
for (const { source, world, out } of plugins) {
  const { component } = await componentize({
    sourcePath: source,
    witPath: 'wit',
    worldName: world,
    // No fetch(): only enrichers may make requests, and these plugins are not enrichers.
    disableFeatures: ['http', 'fetch-event'],
  });
  await writeFile(here(`../../target/plugins/${out}`), component);
  console.error(`built ${out} (${world})`);
}
