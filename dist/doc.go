// Package dist flies the ES trainer's rollouts on a NATS JetStream cluster
// (docs/distributed.md).
//
// The trainer's side is Runner, a policy.Runner: for each batch it
// publishes the batch's policy.Spec once (stream CATCH_SPECS, subject
// catch.spec.<hash>), the tasks in chunks to a work-queue stream
// (CATCH_TASKS, subject catch.task), and collects one result message per
// chunk from a persisted stream (CATCH_RESULTS, subject
// catch.result.<batch>.<chunk>). Batch ids are hashes of the batch's
// content, so a trainer restarted from its checkpoint asks for the same
// batches and finds the results already published: nothing is flown
// twice that has been published.
//
// The worker's side is Work: it pulls task chunks from the shared durable
// consumer catch-workers, flies them with a policy.Flyer, publishes the
// results and then acknowledges the task. A worker that dies leaves its
// chunk unacknowledged, and JetStream redelivers it to another worker
// after the consumer's AckWait; a live worker sends in-progress
// acknowledgements while it flies, so long chunks are not redelivered.
// Results are deterministic functions of the task, so a duplicate (a slow
// worker's and its replacement's) is identical and the first one wins.
//
// StartServer starts an embedded JetStream server on loopback (the
// trainer's zero-set-up default); Setup creates the streams and the
// consumer on any server or cluster.
//
// All methods are safe for use by one goroutine at a time per Runner;
// Work runs in the caller's goroutine until its context ends.
package dist
