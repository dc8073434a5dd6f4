// Package web holds the browser pages that vagt api serves: the care console at / and the
// manager dashboard at /stats. They are plain HTML, CSS and JavaScript with no build step
// and nothing fetched from elsewhere at run time (municipal networks and the demo are
// offline); api/httpapi serves them from this embedded file system. lang/ holds the
// catalogue of each language (docs/i18n.md).
package web

import "embed"

// Files are the pages and their assets, by file name.
//
//go:embed *.html *.css *.js *.png *.svg *.webmanifest favicon.ico lang/*.json
var Files embed.FS
