package awsproto

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	callerKey
)

// NewRequestID returns a random UUID (version 4) in its canonical text form,
// the shape of AWS request ids.
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// WithRequestID returns ctx carrying the request id the client was sent.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Caller is who signed a request.
type Caller struct {
	AccessKeyID string
	// Anonymous is true when the request was not authenticated (auth
	// turned off by the operator).
	Anonymous bool
	// Identity is the principal the credentials belong to, when the
	// credential store knows it (see IdentityStore); zero otherwise.
	Identity Identity
}

// Identity is the principal behind a set of credentials, as STS
// GetCallerIdentity answers it.
type Identity struct {
	// Account is the 12-digit account id.
	Account string
	// ARN is the principal: arn:aws:iam::ACCOUNT:root for the root
	// keys, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION for a role
	// session.
	ARN string
	// UserID is the account id for the root, AROA…:SESSION for a role
	// session.
	UserID string
	// RoleARN and SessionName are set for a role session: the role's
	// IAM ARN (arn:aws:iam::ACCOUNT:role/PATH/ROLE) and the session name.
	RoleARN, SessionName string
	// SessionPolicy is the session policy a role session was given
	// (AssumeRole's Policy and the documents of its PolicyArns, as one
	// JSON array of policy documents); "" if none.
	SessionPolicy string
	// Expires is when temporary credentials stop working; zero for
	// long-term keys.
	Expires time.Time
}

// WithCaller returns ctx carrying the authenticated caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey, c)
}

// CallerFrom returns the caller carried by ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey).(Caller)
	return c, ok
}
