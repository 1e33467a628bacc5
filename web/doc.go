// Package web holds the admin dashboard's static files and exposes them through embed,
// so the binary serves the dashboard offline.
//
// The files under dashboard/ are plain HTML, CSS and JavaScript: no framework, no
// build step, no CDN; charts are SVG drawn by app.js. The package serves files only
// and holds no data; the page reads internal/admin's API (/api/v1/stats and its SSE
// stream) and asks for the admin token when the API answers 401. It is not on any
// request path of the gateway.
package web
