// Package triallog writes and reads trial logs: one JSON line per throw (a Throw), as the
// controller node records it on hardware or sim-over-ROS, for `catch latency`, `catch replay`
// and as training data (forecaster, ES fine-tuning).
//
// Crash safety: Writer appends each line with one write(2) of the whole encoded line,
// newline included, to a file opened O_APPEND, then fsyncs it (Options.NoSync turns that off).
// A process killed mid-write can leave at most one partial line at the end of the file; it
// has no trailing newline, and Scan never parses it as data (it is counted in
// Stats.Truncated). Open repairs such a tail before appending, so a restarted run never glues
// a new line onto a torn one. Open never cuts what is not a torn record: a file whose first
// line is not a record of the log's kind (Options.Check), or whose tail after the last
// newline is not the start of a JSON object, is refused and left as it was.
//
// Each record names the run that wrote it (Throw.Run, NewRunID).
//
// Times are int64 nanoseconds on the controller loop's clock (time.Duration), so a replay
// sees exactly the times the loop saw; positions are m (rail) and rad, world frame.
//
// Writer is safe for concurrent use; Append allocates (it runs on the node's log goroutine,
// never on the loop's).
package triallog
