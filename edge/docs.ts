/**
 * The API reference at /docs: Swagger UI (npm swagger-ui-dist, which renders
 * OpenAPI 3.1 and has "Try it out"), served from this server, never a CDN.
 * The page loads the UI's two files from /docs/ui/ and points it at
 * /openapi.json; with no `servers` in the document, "Try it out" calls the
 * server the page came from.
 *
 * Where the files come from: the Worker serves them as static assets
 * (build-assets.ts copies them into dist/public/docs/ui/); the Node adapter
 * reads them from node_modules (node/index.ts `nodeDocsFile`).
 */

/** The files of swagger-ui-dist the page needs, served under /docs/ui/. */
export const DOCS_FILES = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
} as const;
export type DocsFile = keyof typeof DOCS_FILES;

/** Relative URLs, so the page works behind any prefix that keeps /docs and /openapi.json side by side. */
export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>edgegen API reference</title>
  <link rel="stylesheet" href="docs/ui/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="docs/ui/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: new URL('openapi.json', document.baseURI).href,
      dom_id: '#docs',
      deepLinking: true,
      tryItOutEnabled: true,
      displayRequestDuration: true,
      onComplete: function () { document.body.dataset.ready = 'true'; },
    });
  </script>
</body>
</html>
`;
