// Builds each JavaScript plugin into a component in ../../target/plugins/.
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const plugins = [
  { source: 'high-value.js', world: 'filter', out: 'js_high_value.wasm' },
  { source: 'audit.js', world: 'consumer', out: 'js_audit.wasm' },
];

await mkdir(here('../../target/plugins/'), { recursive: true });
for (const { source, world, out } of plugins) {
  const { component } = await componentize({
    sourcePath: here(source),
    witPath: here('../../wit'),
    worldName: world,
    // No fetch(): only enrichers may make requests, and these plugins are not enrichers.
    disableFeatures: ['http', 'fetch-event'],
  });
  await writeFile(here(`../../target/plugins/${out}`), component);
  console.error(`built ${out} (${world})`);
}
