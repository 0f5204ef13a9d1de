// Package launch wires the pipeline together: it loads the one YAML file
// that configures a run (robot, world, estimator, controllers), and builds
// controllers by name for the CLI, the benchmark and the ROS nodes.
//
// Everything here runs at start-up, never per tick.
package launch
