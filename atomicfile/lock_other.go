//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package atomicfile

import "os"

// tryLock always succeeds where flock is unavailable: writers there rely
// on atomic renames alone, so a racing process can at worst repeat work,
// never leave a torn file.
func tryLock(f *os.File) (bool, error) { return true, nil }

func unlockFile(f *os.File) {}

const flockAvailable = false
