// Placeholder until the page's entry point lands: `make web` bundles this file into
// build/web/app.js. Replaced by the page itself (issue 28).
document.body?.setAttribute("data-placeholder", "web/main.js");
