// Runs graphql-http's GraphQL-over-HTTP server audit against a running server and
// prints the results as JSON (one object per audit: id, name, status, reason).
//
// Usage: node audit.mjs <graphql-url> <dir holding node_modules/graphql-http>
// ES modules ignore NODE_PATH, so the package is imported by absolute path from the
// cache directory the test installed it into.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [url, prefix] = process.argv.slice(2);
if (!url || !prefix) {
  console.error('usage: node audit.mjs <graphql-url> <npm prefix>');
  process.exit(2);
}
const entry = join(prefix, 'node_modules', 'graphql-http', 'lib', 'index.mjs');
const { auditServer } = await import(pathToFileURL(entry).href);

const results = await auditServer({ url });
const summary = await Promise.all(
  results.map(async (result) => ({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.status === 'ok' ? null : result.reason,
    httpStatus: result.status === 'ok' ? null : result.response.status,
    contentType:
      result.status === 'ok' ? null : result.response.headers.get('content-type'),
  })),
);
process.stdout.write(JSON.stringify(summary));
