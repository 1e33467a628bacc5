package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/gantrygw/gantry/internal/config"
)

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", " [FILE...]", stderr)
	var path string
	fs.StringVar(&path, "c", "", "config file (default gantry.yaml; FILE arguments may name several)")
	fs.StringVar(&path, "config", "", "config file (same as -c)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	files := fs.Args()
	if path != "" {
		files = append([]string{path}, files...)
	}
	if len(files) == 0 {
		files = []string{"gantry.yaml"}
	}
	code := exitOK
	for _, f := range files {
		cfg, err := config.Load(f)
		if err != nil {
			code = exitFailure
			var ce *config.Error
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					fmt.Fprintln(stdout, p.String())
				}
				fmt.Fprintf(stderr, "%s: %d problem(s)\n", f, len(ce.Problems))
				continue
			}
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%d listeners, %d upstreams, %d routes)\n", f, len(cfg.Listeners), len(cfg.Upstreams), len(cfg.Routes))
	}
	return code
}
