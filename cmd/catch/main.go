// Command catch is the one binary of the ball-catching controller: simulated
// trials, benchmarks, solver tools and the ROS nodes are its subcommands.
//
// Exit status: 0 on success, 2 when the input was wrong (unknown flag,
// scenario, controller or file), 1 when a valid run failed.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/launch"
)

// root is the top command; each subcommand file adds itself in an init func.
var root = &cobra.Command{
	Use:           "catch",
	Short:         "Real-time ball-catching controller: simulated trials, benchmarks, ROS nodes",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// runError marks an error of a valid run (exit 1) as opposed to bad input (exit 2).
type runError struct{ err error }

func (e runError) Error() string { return e.err.Error() }
func (e runError) Unwrap() error { return e.err }

// failed wraps err as a run failure, so main exits with status 1.
func failed(err error) error {
	if err == nil {
		return nil
	}
	return runError{err}
}

// cmdLine is the command line of this run, as outputs record it.
var cmdLine = []string{"catch"}

// record is the provenance of an output of this run.
func record(cfg *launch.Config, seed uint64) provenance.Record {
	return provenance.New(cmdLine, cfg.Hash(), seed)
}

func init() {
	root.Version = provenance.ReadBuild().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if c == root {
			return fmt.Errorf("%w (see 'catch --help')", err)
		}
		return fmt.Errorf("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath())
	})
	root.CompletionOptions.DisableDefaultCmd = true
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the exit status. It never panics
// on any input: a panic in a subcommand is reported as a run failure.
func run(args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "catch: internal error: %v\n", r)
			code = 1
		}
	}()
	cmdLine = append([]string{"catch"}, args...)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "catch: %v\n", err)
	var re runError
	if errors.As(err, &re) {
		return 1
	}
	return 2
}
