// Command catch is the one binary of the ball-catching controller: simulated
// trials, benchmarks, solver tools and the ROS nodes are its subcommands.
//
// Exit status: 0 on success, 2 when the input was wrong (unknown flag,
// scenario, controller or file), 1 when a valid run failed.
package main

import (
	"os"

	"github.com/agilecatch/catch/cmd/catch/internal/light"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/launch"
)

// root is the top command; each subcommand file adds itself in an init func.
var root = light.NewRoot(provenance.ReadBuild().String())

// failed wraps err as a run failure, so main exits with status 1.
func failed(err error) error { return light.Failed(err) }

// cmdLine is the command line of this run, as outputs record it.
var cmdLine = []string{"catch"}

// record is the provenance of an output of this run.
func record(cfg *launch.Config, seed uint64) provenance.Record {
	return provenance.New(cmdLine, cfg.Hash(), seed)
}

func init() {
	// kin and qp link no C library; the front end (cmd/catch/front) runs them too.
	root.AddCommand(light.Kin(), light.QP())
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the exit status. It never panics
// on any input: a panic in a subcommand is reported as a run failure.
func run(args []string) int {
	cmdLine = append([]string{"catch"}, args...)
	return light.Run(root, args, os.Stderr)
}
