//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package natsd

import "errors"

func statfs(string) (uint64, uint64, error) {
	return 0, 0, errors.New("statfs is not supported on this platform")
}
