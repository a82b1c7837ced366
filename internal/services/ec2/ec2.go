package ec2

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of EC2.
const (
	// Version is the API version the SDKs send.
	Version = "2016-11-15"
	// Namespace is the xmlns of EC2's responses.
	Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
	// SigningName is the SigV4 service name.
	SigningName = "ec2"
)

// Errors renders EC2's errors (Response>Errors>Error), with InternalError
// for unexpected failures. The edge uses it for the route's own refusals.
var Errors = awsproto.EC2Query{Internal: awsproto.InternalSpec{Code: awsproto.EC2InternalError}}

// Config configures the service.
type Config struct {
	// KV is the natsd.EC2Bucket bucket.
	KV store.KV
	// Region and Account are this server's.
	Region, Account string
	// Logger receives internal failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Authorizer checks every operation before it runs (authz.go); nil
	// allows everything (authentication is off).
	Authorizer *authz.Authorizer
}

type op func(ctx context.Context, q awsproto.QueryRequest) (any, error)

// Service is the EC2 API handler. It is safe for concurrent use.
type Service struct {
	cfg Config
	db  db
	log *slog.Logger
	mu  sync.Mutex // serialises writes (see the package doc)
	ops map[string]op
}

var _ http.Handler = (*Service)(nil)

// Open returns the service, creating the region's default VPC when the
// bucket has none.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, db: db{kv: cfg.KV, region: cfg.Region}, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	s.ops = s.dispatch()
	if err := s.ensureDefaultVPC(ctx); err != nil {
		return nil, fmt.Errorf("ec2: default VPC: %w", err)
	}
	return s, nil
}

// ServeHTTP serves one EC2 request; the edge has authenticated it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := awsproto.ReadQuery(r)
	var out any
	if err == nil {
		o, ok := s.ops[q.Action]
		if !ok {
			err = awsproto.Errorf(awsproto.EC2InvalidAction, "The action %s is not valid for this web service.", clip(q.Action))
		} else if err = s.authorizeOp(r, q); err == nil {
			out, err = o(r.Context(), q)
		}
	}
	if err != nil {
		if ae := awsproto.AsError(err); ae.Unwrap() != nil {
			s.log.ErrorContext(r.Context(), "ec2 request failed", "requestId", awsproto.RequestID(r.Context()), "action", q.Action, "error", err)
		}
		Errors.WriteError(w, r, err)
		return
	}
	s.write(w, r, q.Action, out)
}

// meta is the requestId every response starts with; each result embeds
// it.
type meta struct {
	RequestID string `xml:"requestId"`
}

type requestIDSetter interface{ setRequestID(string) }

func (m *meta) setRequestID(id string) { m.RequestID = id }

// write writes EC2's success response: <ActionResponse xmlns=…> with
// requestId and the result's members.
func (s *Service) write(w http.ResponseWriter, r *http.Request, action string, out any) {
	id := awsproto.RequestID(r.Context())
	if id == "" {
		id = w.Header().Get("x-amzn-RequestId")
	}
	if m, ok := out.(requestIDSetter); ok {
		m.setRequestID(id)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}}
	if err := enc.EncodeElement(out, start); err != nil {
		Errors.WriteError(w, r, awsproto.Internal(fmt.Errorf("encoding %s: %w", action, err)))
		return
	}
	if err := enc.Close(); err != nil {
		Errors.WriteError(w, r, awsproto.Internal(err))
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// clip shortens a client-supplied value echoed in a message.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

func missing(param string) error {
	return awsproto.Errorf(awsproto.EC2MissingParameter, "The request must contain the parameter %s", param)
}

func invalid(format string, args ...any) error {
	return awsproto.Errorf(awsproto.EC2InvalidParameterValue, format, args...)
}

// dispatch is the operations the service serves, by action.
func (s *Service) dispatch() map[string]op {
	return map[string]op{
		"CreateVpc":                     s.createVpc,
		"DescribeVpcs":                  s.describeVpcs,
		"DeleteVpc":                     s.deleteVpc,
		"CreateSubnet":                  s.createSubnet,
		"DescribeSubnets":               s.describeSubnets,
		"DeleteSubnet":                  s.deleteSubnet,
		"CreateSecurityGroup":           s.createSecurityGroup,
		"DescribeSecurityGroups":        s.describeSecurityGroups,
		"DeleteSecurityGroup":           s.deleteSecurityGroup,
		"AuthorizeSecurityGroupEgress":  s.authorize(true),
		"AuthorizeSecurityGroupIngress": s.authorize(false),
		"RevokeSecurityGroupEgress":     s.revoke(true),
		"RevokeSecurityGroupIngress":    s.revoke(false),
		"CreateNatGateway":              s.createNatGateway,
		"DescribeNatGateways":           s.describeNatGateways,
		"DeleteNatGateway":              s.deleteNatGateway,
	}
}
