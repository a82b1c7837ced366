package authz

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/kumo-run/kumo/internal/iam"
)

// ParseSession parses a role session's policies as
// awsproto.Identity.SessionPolicy carries them: a JSON array of policy
// documents, or one document. A document IAM's grammar refuses yields
// its *iam.MalformedError.
func ParseSession(s string) ([]*iam.Policy, error) {
	if t := strings.TrimLeft(s, " \t\r\n"); !strings.HasPrefix(t, "[") {
		p, err := iam.Parse(s, iam.KindIdentity)
		if err != nil {
			return nil, err
		}
		return []*iam.Policy{p}, nil
	}
	var docs []json.RawMessage
	if err := json.Unmarshal([]byte(s), &docs); err != nil {
		return nil, &iam.MalformedError{Message: "Syntax errors in policy."}
	}
	out := make([]*iam.Policy, 0, len(docs))
	for _, d := range docs {
		p, err := iam.Parse(string(d), iam.KindIdentity)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// JoinSession is the SessionPolicy of a session given the policy
// documents docs (each already validated): "" for none, the one document
// itself, or a JSON array of them.
func JoinSession(docs []string) string {
	switch len(docs) {
	case 0:
		return ""
	case 1:
		return docs[0]
	}
	return "[" + strings.Join(docs, ",") + "]"
}

// maxSessions bounds the session policy cache; it is emptied when full,
// as sessions are many and short-lived but share few distinct policies.
const maxSessions = 4096

// sessionCache holds parsed session policies by their text, so a session
// is parsed on its first request only.
type sessionCache struct {
	mu sync.RWMutex
	m  map[string]sessionEntry
}

type sessionEntry struct {
	ps  []*iam.Policy
	err error
}

func (c *sessionCache) get(s string) ([]*iam.Policy, error) {
	c.mu.RLock()
	e, ok := c.m[s]
	c.mu.RUnlock()
	if ok {
		return e.ps, e.err
	}
	ps, err := ParseSession(s)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxSessions {
		c.m = make(map[string]sessionEntry)
	}
	c.m[s] = sessionEntry{ps, err}
	c.mu.Unlock()
	return ps, err
}
