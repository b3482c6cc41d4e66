// The host's log, as a list of the lines written.
export const lines = [];

export function log(level, message, fields) {
  lines.push([level, message, fields]);
}
