package awsproto

import (
	"fmt"
	"slices"
	"strings"
)

// Code names an entry of the error catalogue.
//
// Lambda's codes and the codes every AWS service shares are the wire code
// itself ("ResourceNotFoundException", "AccessDenied"). A code one other
// service defines differently carries that service's name before a '#'
// ("logs#ResourceNotFoundException", "s3#NoSuchKey"): CloudWatch Logs sends
// ResourceNotFoundException with status 400 and a "message" member where
// Lambda sends 404 and "Message", so the two are separate entries. Only
// the part after the '#' goes on the wire (see Name).
type Code string

// Name is the code as sent on the wire: the part after the service's '#'.
func (c Code) Name() string {
	if i := strings.LastIndexByte(string(c), '#'); i >= 0 {
		return string(c[i+1:])
	}
	return string(c)
}

// Service is the service part of a service-specific code, "" for Lambda's
// and the shared ones.
func (c Code) Service() string {
	if i := strings.LastIndexByte(string(c), '#'); i >= 0 {
		return string(c[:i])
	}
	return ""
}

// Fault says who is to blame for an error: the caller or the service. The
// wire spells it "Sender"/"Receiver" in XML protocols and "User"/"Service"
// in Lambda's Type member.
type Fault uint8

const (
	// Client is the caller's fault: the same request fails again.
	Client Fault = iota
	// Server is the service's fault.
	Server
)

// Query is the fault as the XML protocols' <Type> spells it.
func (f Fault) Query() string {
	if f == Server {
		return "Receiver"
	}
	return "Sender"
}

// Lambda is the fault as Lambda's Type member spells it.
func (f Fault) Lambda() string {
	if f == Server {
		return "Service"
	}
	return "User"
}

// Spec is one entry of the catalogue: what the wire needs to know about a
// code. The values come from the service's botocore model (the exception
// shape's "error" trait and its message member) unless a comment says
// otherwise.
type Spec struct {
	Code Code
	// Status is the HTTP status.
	Status int
	// MessageKey is the casing of the message member in JSON bodies:
	// "message" or "Message", as the exception's shape spells it. The
	// SDKs' typed errors read only that member. Empty means "message".
	MessageKey string
	Fault      Fault
	// Retryable is true when the same request may succeed if sent again
	// unchanged: throttling, the service's transient failures, resources
	// that become ready. Error.Retryable reports it; the async queue and
	// pollers give up at once on anything else.
	Retryable bool
	// QueryCode is the code a service that moved from the query protocol
	// to JSON still sends in query responses and in the
	// x-amzn-query-error header (its model's awsQueryError trait), e.g.
	// "AWS.SimpleQueueService.NonExistentQueue" for QueueDoesNotExist.
	// Empty means Code.Name().
	QueryCode string
}

// messageKey is the JSON member the message goes in.
func (s Spec) messageKey() string {
	if s.MessageKey == "" {
		return "message"
	}
	return s.MessageKey
}

// queryCode is the code sent by query and XML protocols.
func (s Spec) queryCode() string {
	if s.QueryCode == "" {
		return s.Code.Name()
	}
	return s.QueryCode
}

// catalogue holds every code Kumo sends. It is written only by Register
// during package initialisation (which Go runs sequentially) and read
// afterwards, so it needs no lock.
var catalogue = map[Code]Spec{}

// Register adds codes to the catalogue. A service package calls it from an
// init function with its table of codes; it must not be called once the
// program runs. A code registered twice, or a Spec the wire cannot carry
// (no code, a status outside 400–599, a message key other than "message"
// or "Message"), panics: these are programming errors caught by any test
// that imports the package.
func Register(specs ...Spec) {
	for _, s := range specs {
		if err := s.check(); err != nil {
			panic("awsproto.Register: " + err.Error())
		}
		if _, dup := catalogue[s.Code]; dup {
			panic(fmt.Sprintf("awsproto.Register: %s registered twice", s.Code))
		}
		catalogue[s.Code] = s
	}
}

func (s Spec) check() error {
	name := s.Code.Name()
	switch {
	case name == "":
		return fmt.Errorf("spec %q without a code", s.Code)
	case strings.ContainsAny(name, " \t\r\n<>&\"';:"):
		return fmt.Errorf("code %q has characters the wire cannot carry", s.Code)
	case s.Status < 400 || s.Status > 599:
		return fmt.Errorf("%s: status %d is not an error status", s.Code, s.Status)
	case s.MessageKey != "" && s.MessageKey != "message" && s.MessageKey != "Message":
		return fmt.Errorf("%s: message key %q", s.Code, s.MessageKey)
	case s.Fault != Client && s.Fault != Server:
		return fmt.Errorf("%s: fault %d", s.Code, s.Fault)
	}
	return nil
}

// Lookup returns the catalogue entry of c.
func Lookup(c Code) (Spec, bool) {
	s, ok := catalogue[c]
	return s, ok
}

// Specs returns every catalogue entry, sorted by code.
func Specs() []Spec {
	out := make([]Spec, 0, len(catalogue))
	for _, s := range catalogue {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Spec) int { return strings.Compare(string(a.Code), string(b.Code)) })
	return out
}

// lookup returns c's entry, or ServiceException's for a code that is not
// in the catalogue (the renderers never send such a code; see render).
func lookup(c Code) Spec {
	if s, ok := catalogue[c]; ok {
		return s
	}
	return catalogue[ServiceException]
}
