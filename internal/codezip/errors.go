package codezip

import (
	"fmt"
	"strconv"
)

// Kind classifies why a zip was refused. Callers map it to an AWS error
// code: TooLarge to RequestEntityTooLargeException, every other kind to
// InvalidParameterValueException.
type Kind int

const (
	// Invalid: not a zip, corrupt, or using a feature Lambda does not unpack
	// (encryption, compression other than stored and deflate), or entries
	// that contradict each other (duplicates, a file used as a directory).
	Invalid Kind = iota + 1
	// TooLarge: the zip itself is bigger than Limits.MaxZipped.
	TooLarge
	// UnzippedTooLarge: the files would add up to more than
	// Limits.MaxUnzipped bytes.
	UnzippedTooLarge
	// TooManyEntries: more than Limits.MaxEntries entries, or more than
	// that many files, directories and symlinks once unpacked.
	TooManyEntries
	// Unsafe: an entry would land, or a symlink would point, outside the
	// package root, or the entry is a device, fifo or socket.
	Unsafe
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "Invalid"
	case TooLarge:
		return "TooLarge"
	case UnzippedTooLarge:
		return "UnzippedTooLarge"
	case TooManyEntries:
		return "TooManyEntries"
	case Unsafe:
		return "Unsafe"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a refused zip. Message is written for the Lambda user and is safe
// to return to the client; Err, when set, is the underlying cause and
// belongs in logs only.
type Error struct {
	Kind    Kind
	Entry   string // the offending entry's name as stored in the zip; empty when the zip as a whole is at fault
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "codezip: " + e.Message + " (" + e.Err.Error() + ")"
	}
	return "codezip: " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

var _ error = (*Error)(nil)

// msgCorrupt is Lambda's own wording for a zip it cannot read.
const msgCorrupt = "Could not unzip uploaded file. Please check your file, then try to upload again."

func corrupt(entry string, cause error) *Error {
	return &Error{Kind: Invalid, Entry: entry, Message: msgCorrupt, Err: cause}
}

// refuse builds an error for one entry, worded like Lambda's corrupt-file
// message with the reason in the middle.
func refuse(k Kind, entry, format string, args ...any) *Error {
	return &Error{
		Kind:    k,
		Entry:   entry,
		Message: "Could not unzip uploaded file: " + fmt.Sprintf(format, args...) + ". Please check your file, then try to upload again.",
	}
}

func tooLarge(lim int64) *Error {
	return &Error{Kind: TooLarge, Message: fmt.Sprintf("Zipped size must be smaller than %d bytes", lim)}
}

func unzippedTooLarge(lim int64) *Error {
	return &Error{Kind: UnzippedTooLarge, Message: fmt.Sprintf("Unzipped size must be smaller than %d bytes", lim)}
}

func tooManyEntries(lim int) *Error {
	return &Error{
		Kind:    TooManyEntries,
		Message: fmt.Sprintf("Could not unzip uploaded file: it holds more than %d entries (files, directories and symlinks)", lim),
	}
}

// quote renders an untrusted name for a message: escaped, and cut short if
// it is long.
func quote(s string) string {
	const max = 200
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
