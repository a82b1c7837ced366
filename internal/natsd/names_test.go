package natsd

import (
	"regexp"
	"testing"
)

func TestNames(t *testing.T) {
	bucket := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	for _, tc := range []struct{ got, want string }{
		{RegistryBucket, "kumo-registry"},
		{CodeBucket, "kumo-code"},
		{SQSAttemptBucket, "kumo-sqs-attempts"},
	} {
		if tc.got != tc.want {
			t.Errorf("name %q, want %q", tc.got, tc.want)
		}
		if !bucket.MatchString(tc.got) {
			t.Errorf("%q is not a valid bucket name", tc.got)
		}
	}
}
