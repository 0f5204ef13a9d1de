package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/launch"
)

func init() {
	var logPath, cfgPath string
	var throw int
	var tol float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay --log FILE [--config run.yaml] [--throw SEQ] [--tol 1e-9] [--json]",
		Short: "Re-run estimator → controller → safety on logged throws and report differences",
		Long: `Feeds each logged throw (or only --throw SEQ) tick by tick through a fresh
control loop with the run's configuration: the logged joint states, and the
logged observations at the ticks that consumed them. Reports the largest
command difference, the first tick beyond --tol, and mode/status/estimate
mismatches. Exact reproduction needs synchronous planning (mpc.async false).
Exits 1 when a throw differs beyond --tol.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			throws, _, err := triallog.ReadThrows(logPath)
			if err != nil {
				return err
			}
			if err := triallog.ValidateThrows(throws); err != nil {
				return fmt.Errorf("--log %s: %w", logPath, err)
			}
			cfg, rob, err := loadConfigRobot(cfgPath)
			if err != nil {
				return err
			}
			// Replay from the log's first throw (controller state carries
			// over) up to the last wanted one.
			last := len(throws) - 1
			if throw >= 0 {
				last = -1
				for i := range throws {
					if int(throws[i].Seq) == throw {
						last = i
					}
				}
				if last < 0 {
					return fmt.Errorf("--throw %d: not in %s", throw, logPath)
				}
			}
			all, err := launch.Replay(&cfg, rob, throws[:last+1], tol)
			if err != nil {
				return failed(err)
			}
			var reps []launch.ReplayReport
			bad := 0
			for _, rep := range all {
				if throw >= 0 && int(rep.Seq) != throw {
					continue
				}
				if rep.FirstDiffTick >= 0 {
					bad++
				}
				reps = append(reps, rep)
			}
			if len(reps) == 0 {
				return fmt.Errorf("--throw %d: not in %s", throw, logPath)
			}
			if asJSON {
				if err := json.NewEncoder(cmd.OutOrStdout()).Encode(reps); err != nil {
					return err
				}
			} else {
				for _, r := range reps {
					fmt.Fprintf(cmd.OutOrStdout(), "throw %d: %d ticks, max command diff %.3g, first tick beyond %.0e: %d, mode/status mismatches %d/%d, max estimate diff %.3g m\n",
						r.Seq, r.Ticks, r.MaxCmdDiff, tol, r.FirstDiffTick, r.ModeMismatches, r.CodeMismatches, r.MaxEstDiffM)
				}
			}
			if bad > 0 {
				return failed(fmt.Errorf("%d of %d throws differ beyond %g", bad, len(reps), tol))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&logPath, "log", "", "trial log (JSONL)")
	f.StringVar(&cfgPath, "config", "", "the run's configuration YAML")
	f.IntVar(&throw, "throw", -1, "replay only the throw with this index (-1: all)")
	f.Float64Var(&tol, "tol", 1e-9, "command difference reported as a divergence")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	root.AddCommand(cmd)
}
