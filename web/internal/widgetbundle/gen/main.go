// Command gen writes the bundled widget, softphone/softphone.js, from its
// modules: run by `go generate ./web` from the web folder.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/callbridge/callbridge/web/internal/widgetbundle"
)

func main() {
	dir := "softphone"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	b, err := widgetbundle.Bundle(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join(dir, widgetbundle.Output), b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
