package iam

import (
	"encoding/json"
	"slices"
	"strings"
)

// principals is a compiled Principal or NotPrincipal element.
type principals struct {
	any       bool     // "*" or {"AWS": "*"}
	accounts  []string // 12-digit ids, from "123456789012" or arn:...:iam::123456789012:root
	arns      []string // IAM users and roles, STS sessions
	services  []string // lower-case service principal names
	federated []string
	canonical []string
}

// grant is how a resource policy's Principal names the caller, which
// decides how far its Allow reaches (see Evaluate).
type grant uint8

const (
	grantNone    grant = iota
	grantAccount       // the caller's account: delegation to the account's own policies
	grantRole          // the role of an assumed-role session
	grantDirect        // the caller itself, a service, or everyone
)

func parsePrincipals(raw json.RawMessage) (*principals, error) {
	if s, err := str(raw); err == nil {
		if s != "*" {
			return nil, malformed(msgInvalidPrincipal)
		}
		return &principals{any: true}, nil
	}
	m, err := object(raw)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, malformed(msgInvalidPrincipal)
	}
	p := &principals{}
	for typ, raw := range m {
		vals, err := strings1(raw)
		if err != nil {
			return nil, err
		}
		if len(vals) == 0 {
			return nil, malformed(msgInvalidPrincipal)
		}
		for _, v := range vals {
			bad := func() error { return malformedf(`%s: "%s":"%s"`, msgInvalidPrincipal, typ, v) }
			if v == "" || (v != "*" && strings.ContainsAny(v, "*?")) {
				return nil, bad()
			}
			switch typ {
			case "AWS":
				switch {
				case v == "*":
					p.any = true
				case isAccountID(v):
					p.accounts = append(p.accounts, v)
				default:
					acct, root, ok := principalARN(v)
					if !ok {
						return nil, bad()
					}
					if root {
						p.accounts = append(p.accounts, acct)
					} else {
						p.arns = append(p.arns, v)
					}
				}
			case "Service":
				if v == "*" {
					p.any = true
					continue
				}
				p.services = append(p.services, strings.ToLower(v))
			case "Federated":
				p.federated = append(p.federated, v)
			case "CanonicalUser":
				p.canonical = append(p.canonical, v)
			default:
				return nil, malformed(msgInvalidPrincipal)
			}
		}
	}
	return p, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// principalARN checks an AWS principal ARN — arn:PARTITION:iam::ACCOUNT:root,
// user/..., role/..., or arn:PARTITION:sts::ACCOUNT:assumed-role/...,
// federated-user/... — and returns its account and whether it is the
// account's root.
func principalARN(s string) (account string, root, ok bool) {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[1] == "" || f[3] != "" || !isAccountID(f[4]) {
		return "", false, false
	}
	res := f[5]
	switch f[2] {
	case "iam":
		if res == "root" {
			return f[4], true, true
		}
		for _, pre := range []string{"user/", "role/"} {
			if strings.HasPrefix(res, pre) && len(res) > len(pre) {
				return f[4], false, true
			}
		}
	case "sts":
		for _, pre := range []string{"assumed-role/", "federated-user/"} {
			if strings.HasPrefix(res, pre) && len(res) > len(pre) {
				return f[4], false, true
			}
		}
	}
	return "", false, false
}

// match says how p names the caller c.
func (p *principals) match(c *Principal) grant {
	if p.any {
		return grantDirect
	}
	switch c.Type {
	case PrincipalService:
		for _, s := range p.services {
			if strings.EqualFold(s, c.Service) {
				return grantDirect
			}
		}
		return grantNone
	case PrincipalAnonymous:
		return grantNone
	}
	if c.Federated != "" {
		for _, f := range p.federated {
			if f == c.Federated {
				return grantDirect
			}
		}
	}
	best := grantNone
	for _, a := range p.arns {
		switch {
		case a == c.ARN:
			return grantDirect
		case c.RoleARN != "" && a == c.RoleARN:
			best = grantRole
		}
	}
	if best != grantNone {
		return best
	}
	for _, a := range p.accounts {
		if a == c.Account {
			if c.Type == PrincipalRoot {
				return grantDirect
			}
			return grantAccount
		}
	}
	return grantNone
}

// excludes reports whether a NotPrincipal element spares the caller c. A
// request carries several principals — the caller's own ARN, for a role
// session the role's ARN, and the account — and a NotPrincipal statement
// applies unless every one of them is listed ("AWS JSON policy elements:
// NotPrincipal": to spare a user, list its account too).
func (p *principals) excludes(c *Principal) bool {
	if p.any {
		return true
	}
	switch c.Type {
	case PrincipalService, PrincipalAnonymous:
		return p.match(c) == grantDirect
	}
	if c.Federated != "" && slices.Contains(p.federated, c.Federated) {
		return true
	}
	if c.ARN != "" && c.Type != PrincipalRoot && !slices.Contains(p.arns, c.ARN) {
		return false
	}
	if c.RoleARN != "" && !slices.Contains(p.arns, c.RoleARN) {
		return false
	}
	return slices.Contains(p.accounts, c.Account)
}
