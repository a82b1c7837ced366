//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package natsd

import "errors"

type dirLock struct{}

func lockDir(string) (*dirLock, error) {
	return nil, errors.New("natsd: data dir locking is not supported on this platform")
}

func (*dirLock) release() error { return nil }
