// The plugin's config, as the test sets it.
export const settings = new Map([['threshold', '100'], ['region', 'eu-west-1'], ['queue', 'orders']]);

export function get(key) {
  return settings.get(key);
}

export function getAll() {
  return [...settings];
}
