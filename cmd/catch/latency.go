package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/hardware/triallog"
)

func init() {
	var logPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "latency --log FILE [--json]",
		Short: "Estimate observation and action latency from a trial log",
		Long: `Reads a trial log (node.trial_log / 'node controller --trial-log') and
estimates the observation latency (camera capture → the controller's receipt)
and the action latency (command → the joint states following it), and prints
them as the scenario settings that make the simulator match the run
(observation.latency_ms, action_latency_ms).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			throws, st, err := triallog.ReadThrows(logPath)
			if err != nil {
				return err
			}
			if err := triallog.ValidateThrows(throws); err != nil {
				return fmt.Errorf("--log %s: %w", logPath, err)
			}
			lat, err := triallog.EstimateLatency(throws)
			if err != nil {
				return failed(err)
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(struct {
					triallog.Latency
					TornLines int `json:"torn_lines"`
				}{lat, st.Truncated})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# %d throws, %d observations, %d joint-state samples (fit rms %.2g)\nobservation:\n  latency_ms: %.1f\naction_latency_ms: %.1f\n",
				lat.Throws, lat.ObservationN, lat.ActionN, lat.ActionRMS, lat.ObservationMS, lat.ActionMS)
			return nil
		},
	}
	cmd.Flags().StringVar(&logPath, "log", "", "trial log (JSONL)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	root.AddCommand(cmd)
}
