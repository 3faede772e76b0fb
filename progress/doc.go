// Package progress draws a one-line progress bar on a terminal.
//
// A Bar writes nothing unless its writer is a terminal (or Force is set),
// so piping kormed's output into a file never fills it with bars.
package progress
