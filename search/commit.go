package search

import "context"

// A write's commit point. A server that answers a request with a 504 when
// its deadline passes must not then commit the write it was asked for: the
// client was told it failed. So a write checks, just before it makes itself
// durable (the log record), whether the request may still commit (Commit),
// and from that moment on the server no longer answers 504: the write is
// as good as done, and it finishes (an fsync and an in-memory install).

// commitKey carries a request's commit point in its context.
type commitKey struct{}

// WithCommit returns ctx carrying commit: the function a write calls at
// its commit point. It reports whether the write may go on (false: the
// request was already answered, as past its deadline) and, when it does,
// promises that the request's answer waits for the write.
func WithCommit(ctx context.Context, commit func() bool) context.Context {
	return context.WithValue(ctx, commitKey{}, commit)
}

// Commit is a write's commit point: the context's error if it has ended,
// context.DeadlineExceeded if its commit point (WithCommit) refuses, else
// nil, after which the write must be made. Backends call it just before a
// write becomes durable.
func Commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f, ok := ctx.Value(commitKey{}).(func() bool); ok && !f() {
		return context.DeadlineExceeded
	}
	return nil
}
