// Command gantry is the Gantry API gateway and load balancer: one binary, one YAML file.
//
// This package holds only the CLI: verbs, flags, wiring and exit codes. Everything it
// runs lives under internal/.
package main

import (
	"fmt"
	"io"
	"os"
)

// verb is one CLI command.
type verb struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var verbs []verb

func init() {
	verbs = []verb{
		{"run", "run the gateway from a config file", cmdRun},
		{"validate", "check a config file and print every problem", cmdValidate},
		{"proxy", "proxy to one or more servers without a config file", cmdProxy},
		{"demo", "run the gateway on an embedded demo config with built-in backends", cmdDemo},
		{"explain", "show which route, policies, upstream and target a request would get", cmdExplain},
		{"version", "print the version", cmdVersion},
		{"help", "show help for gantry or a command", cmdHelp},
	}
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // invalid config, runtime failure
	exitUsage   = 2 // bad flags or arguments
)

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help":
		usage(stdout)
		return exitOK
	case "-v", "--version":
		name = "version"
	}
	for _, v := range verbs {
		if v.name == name {
			return v.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "gantry: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Gantry is an API gateway and load balancer: one binary, one YAML file.

Usage:
  gantry <command> [flags]

Commands:
`)
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-9s %s\n", v.name, v.summary)
	}
	fmt.Fprint(w, `
Run "gantry <command> -h" for a command's flags.

Quick start:
  gantry demo                                      # gateway + demo backends on 127.0.0.1:8080
  gantry proxy --listen :8080 --to http://127.0.0.1:9001 --to http://127.0.0.1:9002
  gantry validate -c gantry.yaml
  gantry explain -c gantry.yaml GET http://localhost:8080/api/x -H 'X-Canary: 1'
  gantry run -c gantry.yaml                        # SIGHUP or a file change reloads
`)
}

func cmdHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return exitOK
	}
	for _, v := range verbs {
		if v.name == args[0] && v.name != "help" {
			return v.run([]string{"-h"}, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "gantry: unknown command %q\n", args[0])
	return exitUsage
}
