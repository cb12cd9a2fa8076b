package dashboard

import (
	"bytes"
	"html"
)

// replaceTitle puts the escaped title where the page has {{TITLE}}.
func replaceTitle(page []byte, title string) []byte {
	return bytes.ReplaceAll(page, []byte("{{TITLE}}"), []byte(html.EscapeString(title)))
}
