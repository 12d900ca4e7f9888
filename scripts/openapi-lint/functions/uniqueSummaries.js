// Spectral function: every operation's summary is unique, also ignoring case, and none is contained
// in another, because the rendered docs list operations by summary and a test finds each on the page.
module.exports = (paths) => {
  const seen = [];
  const results = [];
  for (const [path, item] of Object.entries(paths || {})) {
    for (const [method, op] of Object.entries(item || {})) {
      if (!op || typeof op !== 'object' || typeof op.summary !== 'string') continue;
      const s = op.summary.toLowerCase();
      for (const other of seen) {
        if (s.includes(other.s) || other.s.includes(s)) {
          results.push({
            message: `summary "${op.summary}" repeats or contains "${other.summary}" (${other.where})`,
            path: ['paths', path, method, 'summary'],
          });
        }
      }
      seen.push({ s, summary: op.summary, where: `${method.toUpperCase()} ${path}` });
    }
  }
  return results;
};
