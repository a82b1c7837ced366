package sts

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
)

// Wire constants of STS.
const (
	// Version is the API version every request names.
	Version = "2011-06-15"
	// Namespace is the xmlns of STS's responses.
	Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	// SigningName is the SigV4 service name.
	SigningName = "sts"
)

// Errors renders STS's errors: the query protocol's ErrorResponse, with
// InternalFailure for unexpected failures. The edge uses it for the
// route's own refusals too.
var Errors = awsproto.Query{Namespace: Namespace, Internal: awsproto.InternalSpec{Code: awsproto.InternalFailure}}

// Session durations STS allows.
const (
	defaultRoleDuration    = time.Hour
	chainedRoleDuration    = time.Hour
	defaultSessionDuration = 12 * time.Hour
)

// Config configures the service.
type Config struct {
	// Issuer mints the credentials.
	Issuer *token.Issuer
	// Partition and Account are this server's; Account is the root's and
	// the only one whose roles may be assumed.
	Partition, Account string
	// Logger receives internal failures; nil discards.
	Logger *slog.Logger
	// Authorizer checks AssumeRole against the caller's policies and the
	// role's trust policy, and knows the roles; nil (authentication off)
	// lets any caller assume any role name of the account.
	Authorizer *authz.Authorizer
}

// Service is the STS API handler. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	ops map[string]func(http.ResponseWriter, *http.Request, awsproto.QueryRequest) error
}

var _ http.Handler = (*Service)(nil)

// New returns the STS handler.
func New(cfg Config) *Service {
	s := &Service{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Partition == "" {
		s.cfg.Partition = "aws"
	}
	s.ops = map[string]func(http.ResponseWriter, *http.Request, awsproto.QueryRequest) error{
		"GetCallerIdentity": s.getCallerIdentity,
		"AssumeRole":        s.assumeRole,
		"GetSessionToken":   s.getSessionToken,
	}
	return s
}

// ServeHTTP serves one STS request; the edge has authenticated it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := awsproto.ReadQuery(r)
	if err == nil {
		op, ok := s.ops[q.Action]
		switch {
		case !ok || (q.Version != "" && q.Version != Version):
			err = awsproto.Errorf(awsproto.InvalidAction, "Could not find operation %s for version %s", clipName(q.Action), clipName(q.Version))
		default:
			if err = s.authorize(r, q.Action); err == nil {
				err = op(w, r, q)
			}
		}
	}
	if err != nil {
		if ae := awsproto.AsError(err); ae.Unwrap() != nil {
			s.log.ErrorContext(r.Context(), "sts request failed", "requestId", awsproto.RequestID(r.Context()), "action", q.Action, "error", err)
		}
		Errors.WriteError(w, r, err)
	}
}

// caller is who signed r; the root when the edge does not authenticate
// (auth turned off) or the credential store names no identity.
func (s *Service) caller(r *http.Request) awsproto.Identity {
	c, _ := awsproto.CallerFrom(r.Context())
	if c.Identity.ARN == "" {
		return token.Root(s.cfg.Partition, s.cfg.Account)
	}
	return c.Identity
}

type callerIdentityResult struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	ARN     string `xml:"Arn"`
}

func (s *Service) getCallerIdentity(w http.ResponseWriter, r *http.Request, q awsproto.QueryRequest) error {
	id := s.caller(r)
	awsproto.WriteQueryResult(w, r, q.Action, Namespace, callerIdentityResult{UserID: id.UserID, Account: id.Account, ARN: id.ARN})
	return nil
}

// credentials is the Credentials member of STS's results.
type credentials struct {
	AccessKeyID     string    `xml:"AccessKeyId"`
	SecretAccessKey string    `xml:"SecretAccessKey"`
	SessionToken    string    `xml:"SessionToken"`
	Expiration      time.Time `xml:"Expiration"`
}

func wireCredentials(c token.Credentials) credentials {
	return credentials{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration.UTC()}
}

type tag struct{ Key, Value string }

type policyARN struct {
	ARN string `query:"arn"`
}

// assumeRoleInput is AssumeRole's request shape. The members after
// DurationSeconds are accepted and not enforced (see the package doc).
type assumeRoleInput struct {
	RoleArn           string
	RoleSessionName   string
	DurationSeconds   *int32
	Policy            string
	PolicyArns        []policyARN
	Tags              []tag
	TransitiveTagKeys []string
	ExternalID        string `query:"ExternalId"`
	SerialNumber      string
	TokenCode         string
	SourceIdentity    string
}

type assumeRoleResult struct {
	Credentials     credentials `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		ARN           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
	SourceIdentity string `xml:"SourceIdentity,omitempty"`
}

func (s *Service) assumeRole(w http.ResponseWriter, r *http.Request, q awsproto.QueryRequest) error {
	var in assumeRoleInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return err
	}
	caller := s.caller(r)
	var problems []string
	if in.RoleArn == "" {
		problems = append(problems, "Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	} else if len(in.RoleArn) < 20 || len(in.RoleArn) > 2048 {
		problems = append(problems, fmt.Sprintf("Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048", clipName(in.RoleArn)))
	}
	if in.RoleSessionName == "" {
		problems = append(problems, "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	} else if !validSessionName(in.RoleSessionName) {
		problems = append(problems, fmt.Sprintf("Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64", clipName(in.RoleSessionName)))
	}
	d := defaultRoleDuration
	if in.DurationSeconds != nil {
		d = time.Duration(*in.DurationSeconds) * time.Second
		if d < token.MinDuration || d > token.MaxRoleDuration {
			problems = append(problems, fmt.Sprintf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", *in.DurationSeconds))
		}
	}
	if len(in.Policy) > maxSessionPolicy {
		problems = append(problems, fmt.Sprintf("Value '%s' at 'policy' failed to satisfy constraint: Member must have length less than or equal to %d", clipName(in.Policy), maxSessionPolicy))
	}
	if len(in.PolicyArns) > maxPolicyArns {
		problems = append(problems, fmt.Sprintf("Value '[%d elements]' at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to %d", len(in.PolicyArns), maxPolicyArns))
	}
	if err := validation(problems); err != nil {
		return err
	}
	session, err := s.sessionPolicy(in)
	if err != nil {
		return err
	}
	if caller.RoleARN != "" && d > chainedRoleDuration {
		return awsproto.Errorf(awsproto.ValidationError, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	id, err := s.cfg.Issuer.RoleSession(in.RoleArn, in.RoleSessionName)
	if err != nil {
		return awsproto.Errorf(awsproto.ValidationError, "%s is invalid", clipName(in.RoleArn))
	}
	if id.Account != s.cfg.Account {
		return awsproto.Errorf(awsproto.AccessDenied, "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, clipName(in.RoleArn))
	}
	if role, checked, err := s.authorizeAssumeRole(r, in.RoleArn); err != nil {
		return err
	} else if checked {
		if role.MaxSession > 0 && d > role.MaxSession {
			return awsproto.Errorf(awsproto.ValidationError, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		}
		if role.ID != "" {
			id.UserID = role.ID + ":" + in.RoleSessionName
		}
	}
	id.SessionPolicy = session
	c, err := s.cfg.Issuer.Mint(id, d)
	if err != nil {
		return awsproto.Internal(err)
	}
	var out assumeRoleResult
	out.Credentials = wireCredentials(c)
	out.AssumedRoleUser.AssumedRoleID = id.UserID
	out.AssumedRoleUser.ARN = id.ARN
	out.SourceIdentity = in.SourceIdentity
	awsproto.WriteQueryResult(w, r, q.Action, Namespace, out)
	return nil
}

type getSessionTokenInput struct {
	DurationSeconds *int32
	SerialNumber    string
	TokenCode       string
}

type getSessionTokenResult struct {
	Credentials credentials `xml:"Credentials"`
}

func (s *Service) getSessionToken(w http.ResponseWriter, r *http.Request, q awsproto.QueryRequest) error {
	var in getSessionTokenInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return err
	}
	d := defaultSessionDuration
	if in.DurationSeconds != nil {
		d = time.Duration(*in.DurationSeconds) * time.Second
		if d < token.MinDuration || d > token.MaxSessionTokenDuration {
			return validation([]string{fmt.Sprintf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 129600", *in.DurationSeconds)})
		}
	}
	caller := s.caller(r)
	if !caller.Expires.IsZero() {
		return awsproto.Errorf(awsproto.AccessDenied, "Cannot call GetSessionToken with session credentials")
	}
	c, err := s.cfg.Issuer.Mint(caller, d)
	if err != nil {
		return awsproto.Internal(err)
	}
	awsproto.WriteQueryResult(w, r, q.Action, Namespace, getSessionTokenResult{wireCredentials(c)})
	return nil
}

// validation is AWS's "N validation errors detected" for problems, nil
// when there are none.
func validation(problems []string) error {
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return awsproto.Errorf(awsproto.ValidationError, "1 validation error detected: %s", problems[0])
	}
	msg := fmt.Sprintf("%d validation errors detected: ", len(problems))
	for i, p := range problems {
		if i > 0 {
			msg += "; "
		}
		msg += p
	}
	return awsproto.Errorf(awsproto.ValidationError, "%s", msg)
}

// validSessionName is STS's [\w+=,.@-]{2,64}.
func validSessionName(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || sessionNamePunct(c)) {
			return false
		}
	}
	return true
}

func sessionNamePunct(c byte) bool {
	switch c {
	case '_', '+', '=', ',', '.', '@', '-':
		return true
	}
	return false
}

// clipName shortens a client-supplied value echoed in a message.
func clipName(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}
