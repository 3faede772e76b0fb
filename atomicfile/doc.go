// Package atomicfile writes files so that readers see either the old
// content or the complete new content, never a half-written file: the data
// goes to a temporary file in the target's folder, which is synced and then
// renamed over the target.
//
// New files get mode 0644 (the process umask is not applied), the mode a
// plain os.WriteFile(path, b, 0o644) would give under the usual umask 022;
// os.CreateTemp alone would leave them 0600. Temporary files are named
// ".<base>.tmp<random>" next to the target and are removed on every error.
package atomicfile
