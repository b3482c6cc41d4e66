// Maps the host's imports (switchyard:plugin/...) to the stand-ins in ./host, so that the SDK's
// tests run in Node: `node --import ./test/register.mjs --test test/`.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
