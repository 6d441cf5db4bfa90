// Command orggen writes a realistic organisation-tree import file:
//
//	go run ./idp/org/orggen/cmd/orggen -rows 600000 -o orgs-600k.csv
//	xszz orgs import orgs-600k.csv
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/xszz/xszz/idp/org/orggen"
)

func main() {
	rows := flag.Int("rows", 600_000, "data rows to write")
	seed := flag.Uint64("seed", 1, "random seed; the same seed gives the same file")
	shuffle := flag.Bool("shuffle", false, "write rows in random order instead of parents first")
	out := flag.String("o", "-", "output file, - for standard output")
	flag.Parse()
	if err := run(*out, orggen.Options{Rows: *rows, Seed: *seed, Shuffle: *shuffle}); err != nil {
		fmt.Fprintln(os.Stderr, "orggen:", err)
		os.Exit(1)
	}
}

func run(out string, opt orggen.Options) error {
	var w io.Writer = os.Stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := orggen.Generate(w, opt); err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok && out != "-" {
		return f.Close()
	}
	return nil
}
