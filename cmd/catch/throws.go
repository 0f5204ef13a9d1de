package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

func init() {
	var (
		scenario, cfgPath string
		n                 int
		seed              uint64
		asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "throws",
		Short: "Sample a scenario's throws and print their statistics",
		Long: `Samples --n throws of a scenario (the same throws 'catch sim' uses for
the seed) and prints horizontal speed, flight time and arrival speed at the
rail plane (x = 0), the fraction arriving on the robot's right (y < 0) and the
fraction the robot can reach.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := launch.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			sc, err := sim.Lookup(scenario)
			if err != nil {
				return err
			}
			rob, err := robot.Load(cfg.Robot)
			if err != nil {
				return err
			}
			st, err := sim.Throws(sc, rob, cfg.Sim, n, seed, 0)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(w, "%s: %d throws (seed %d), %d reach the rail plane\n", st.Scenario, st.N, seed, st.Arriving)
			fmt.Fprintf(w, "  horizontal speed %.3f ± %.3f m/s\n", st.HorizontalSpeed.Mean, st.HorizontalSpeed.Std)
			fmt.Fprintf(w, "  flight time      %.3f ± %.3f s\n", st.FlightTime.Mean, st.FlightTime.Std)
			fmt.Fprintf(w, "  arrival speed    %.3f ± %.3f m/s\n", st.ArrivalSpeed.Mean, st.ArrivalSpeed.Std)
			fmt.Fprintf(w, "  right fraction %.3f, catchable fraction %.3f\n", st.RightFraction, st.CatchableFraction)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "nominal", "scenario name ("+joinNames(sim.Names())+") or a scenario .yaml file")
	countFlag(f, &n, "n", 1000, 1, sim.MaxTrials, "number of throws")
	f.Uint64Var(&seed, "seed", 1, "random seed")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML")
	root.AddCommand(cmd)
}
