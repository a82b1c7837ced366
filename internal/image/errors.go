package image

import "fmt"

// Kind classifies a failure to resolve or pull an image, as Lambda's
// errors and state reasons tell them apart.
type Kind int

const (
	// Invalid: the URI is malformed or names a layout Kumo may not read.
	Invalid Kind = iota + 1
	// NotFound: the registry or layout has no such image.
	NotFound
	// Denied: the registry refused access.
	Denied
	// Unsupported: the manifest, config or a layer has a media type or
	// platform Kumo cannot run.
	Unsupported
	// TooLarge: the image's unpacked size is over MaxUnpacked.
	TooLarge
	// Unavailable: the registry could not be reached or failed; worth
	// retrying.
	Unavailable
)

// Error is a failure concerning one image.
type Error struct {
	Kind Kind
	URI  string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("image %s: %v", e.URI, e.Err) }
func (e *Error) Unwrap() error { return e.Err }
