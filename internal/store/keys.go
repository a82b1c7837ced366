package store

import (
	"errors"
	"fmt"
)

// ErrInvalidKey: a key, prefix, blob name or bucket name is malformed (see
// KV for the key syntax; bucket names are one token).
var ErrInvalidKey = errors.New("store: invalid key")

func validToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '=', c == '-':
		default:
			return false
		}
	}
	return true
}

// checkKey validates a key or blob name: dot-separated non-empty tokens.
func checkKey(key string) error {
	start := 0
	for i := 0; i <= len(key); i++ {
		if i == len(key) || key[i] == '.' {
			if !validToken(key[start:i]) {
				return fmt.Errorf("%w: %q", ErrInvalidKey, key)
			}
			start = i + 1
		}
	}
	return nil
}

// checkPrefix validates a List/Watch prefix: "" or a key followed by ".".
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if prefix[len(prefix)-1] != '.' || checkKey(prefix[:len(prefix)-1]) != nil {
		return fmt.Errorf("%w: prefix %q", ErrInvalidKey, prefix)
	}
	return nil
}

// checkBucket validates a bucket name: one token without "=".
func checkBucket(name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] == '=' {
			return fmt.Errorf("%w: bucket %q", ErrInvalidKey, name)
		}
	}
	if !validToken(name) {
		return fmt.Errorf("%w: bucket %q", ErrInvalidKey, name)
	}
	return nil
}
