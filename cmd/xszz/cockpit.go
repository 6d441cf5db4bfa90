package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/xszz/xszz/cockpit"
	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/migrations"
)

// cockpitCmd holds the cockpit's data tools.
func (c *cli) cockpitCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cockpit", Short: "数字驾驶舱 data: generate a data set or import real data, rebuild rollups"}
	var records int
	var seed uint64
	g := &cobra.Command{
		Use:   "gen",
		Short: "Replace the cockpit's data with a deterministic generated set and rebuild the rollups",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(c.configPath)
			if err != nil {
				return err
			}
			db, err := sqldb.Open(cmd.Context(), cfg.Database.URL)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.Migrate(cmd.Context(), migrations.Cockpit); err != nil {
				return err
			}
			st, err := cockpit.Generate(cmd.Context(), db, gen.Options{Records: records, Seed: seed, Progress: os.Stderr})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "%d students, %d identifications, %d aid records, %d allocations in %s\n", st.Students, st.Identifications, st.Records, st.Allocations, st.Took.Round(1e6))
			return nil
		},
	}
	g.Flags().IntVar(&records, "records", 1_000_000, "aid records to generate")
	g.Flags().Uint64Var(&seed, "seed", 1, "seed: the same seed gives the same data")
	cmd.AddCommand(g, c.cockpitImportCmd())
	return cmd
}

// cockpitImportCmd reads real data from CSV files.
func (c *cli) cockpitImportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE.csv...",
		Short: "Import real data from CSV files (columns: docs/cockpit.md), each file all or nothing, then rebuild the rollups",
		Long: `Import reads schools, students, identifications, aid records, enrolment,
allocations and disbursements from CSV files, one kind per file, recognised
by the header line (columns in docs/cockpit.md, "Importing real data").
Files are imported in dependency order whatever order they are given in;
each is written whole or not at all, its bad lines reported by number, and
the import stops at the first refused file. The rollups and warnings are
rebuilt afterwards.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c.configPath)
			if err != nil {
				return err
			}
			var files []cockpit.CSVFile
			for _, a := range args {
				// Opened when imported, and read as a stream: a file of
				// millions of lines is never held in memory. A missing one
				// is refused before anything is imported.
				if _, err := os.Stat(a); err != nil {
					return err
				}
				files = append(files, cockpit.CSVFile{Name: a, Open: func() (io.ReadCloser, error) { return os.Open(a) }})
			}
			db, err := sqldb.Open(cmd.Context(), cfg.Database.URL)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.Migrate(cmd.Context(), migrations.Cockpit); err != nil {
				return err
			}
			done, err := cockpit.Import(cmd.Context(), db, files, os.Stderr, time.Now())
			for _, r := range done {
				fmt.Fprintf(c.out, "%s: %d rows imported\n", r.Kind, r.Rows)
			}
			return err
		},
	}
}
