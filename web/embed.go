package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed dashboard
var files embed.FS

// Dashboard serves the dashboard's files (index.html, app.js, style.css) from their
// root; mount it under a prefix with http.StripPrefix. Responses ask browsers to
// revalidate so an upgraded binary's page is picked up at once.
func Dashboard() http.Handler {
	sub, err := fs.Sub(files, "dashboard")
	if err != nil {
		panic(err) // programmer error: the embed pattern above names the directory
	}
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
		fsrv.ServeHTTP(w, r)
	})
}

// Files returns the dashboard's files, for tests and tools.
func Files() fs.FS {
	sub, _ := fs.Sub(files, "dashboard")
	return sub
}
