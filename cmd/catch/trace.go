package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/sim/trace"
)

func init() {
	var logPath, out, cfgPath string
	cmd := &cobra.Command{
		Use:   "trace --log FILE --out DIR",
		Short: "Convert the ROS controller node's trial log into per-trial traces (the 'catch sim --trace' format)",
		Long: `Reads a trial log (node.trial_log / 'node controller --trial-log') and writes
one trace per throw into --out, in the format of 'catch sim --trace'
(docs/traces.md), so that 'catch view' and the users' tools read both alike.
The log holds the measured joint state, the command, the controller's status
and the ball estimate per tick and the catch sensor's verdict; the columns
it lacks (the ball's truth, the estimate's covariance, forecast, plan,
pocket state) stay empty. --config names the robot (its URDF) for the head
pose.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if logPath == "" || out == "" {
				return fmt.Errorf("--log and --out are required")
			}
			cfg, rob, err := loadConfigRobot(cfgPath)
			if err != nil {
				return err
			}
			throws, _, err := triallog.ReadThrows(logPath)
			if err != nil {
				return fmt.Errorf("--log: %w", err)
			}
			if len(throws) == 0 {
				return fmt.Errorf("--log %s: no throws", logPath)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			prov := record(&cfg, 0)
			for i := range throws {
				if _, err := trace.FromTrialLog(&throws[i], rob, out, prov); err != nil {
					return fmt.Errorf("--log %s: %w", logPath, err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d traces to %s\n", len(throws), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&logPath, "log", "", "trial log (JSON lines) of the ROS controller node")
	f.StringVar(&out, "out", "", "directory for the traces")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (the robot's URDF)")
	root.AddCommand(cmd)
}
