package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/xszz/xszz/cockpit"
	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/migrations"
)

// cockpitCmd holds the cockpit's data tools.
func (c *cli) cockpitCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cockpit", Short: "数字驾驶舱 data: generate a data set, rebuild rollups"}
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
	cmd.AddCommand(g)
	return cmd
}
