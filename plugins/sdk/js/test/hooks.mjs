export async function resolve(specifier, context, next) {
  const host = /^switchyard:plugin\/([a-z-]+)@/.exec(specifier);
  if (host) return { url: new URL(`./host/${host[1]}.mjs`, import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
